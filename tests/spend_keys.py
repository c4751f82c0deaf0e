"""The keys the spend tests use, the CLI's own prices, and a key's /v1/usage."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Bridge

KEYS = {"API_KEYS": "sk-alpha,sk-beta", "ADMIN_API_KEYS": "sk-admin"}


def prices(bridge: Bridge, alias: str = "sonnet") -> tuple[float, float]:
    """The CLI's own list prices (USD per token, input and output) from its `initialize` answer."""
    entry = next(m for m in bridge.pool.cli_models if m.get("value") == alias)
    found = re.search(r"\$([\d.]+)/\$([\d.]+) per Mtok", str(entry.get("description")))
    assert found, entry
    return float(found[1]) / 1e6, float(found[2]) / 1e6


async def usage_of(bridge: Bridge, api_key: str, **params: str) -> dict[str, Any]:
    async with bridge.http() as http:
        resp = await http.get("/v1/usage", params=params, headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body
