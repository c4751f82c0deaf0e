"""The Messages API as the tests call it: the real `anthropic` client (strict) and raw posts."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx

from tests.conftest import Bridge


def client(bridge: Bridge, api_key: str = "sk-test", **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=bridge.url, api_key=api_key, max_retries=0, _strict_response_validation=True, **kwargs
    )


async def post(bridge: Bridge, body: dict[str, Any], path: str = "/v1/messages", **headers: str) -> httpx.Response:
    async with bridge.http() as http:
        return await http.post(path, json=body, headers={"anthropic-version": "2023-06-01", **headers})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
