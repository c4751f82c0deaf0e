"""The Vercel AI SDK (tests/clients/js/ai_sdk.mjs) against a bridge on a real port.

`openai(model)` is the provider's Responses API model, `openai.chat(model)` its chat model.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from tests.clients.conftest import run_node
from tests.conftest import Bridge

pytestmark = pytest.mark.asyncio(loop_scope="module")
PER_API: dict[str, Any] = {
    "generateText": {"text": "Hello from the AI SDK", "finishReason": "stop", "outputTokens": 5},
    "streamText": {"parts": ["w1 ", "w2 ", "w3 ", "w4"], "finishReason": "stop"},
    "tool": {"text": "after-tool: hot in Lima", "calls": [["weather", {"city": "Lima"}]], "steps": 2},
    "streamText tool": "Checking.after-tool: hot in Quito",
    "generateObject": {"name": "Ann", "age": 7},
    "tool with structured output": {"city": "Lima", "hot": True},
    "conversation": "yes",
}
EXPECTED = {f"{api}:{name}": value for api in ("responses", "chat") for name, value in PER_API.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results(live: Bridge) -> dict[str, Any]:
    return await run_node("ai_sdk.mjs", live)


@pytest.mark.parametrize("case", list(EXPECTED))
async def test_case(results: dict[str, Any], case: str) -> None:
    assert case in results, f"the script reported no result for {case}"
    assert "error" not in results[case], results[case]
    assert results[case]["value"] == EXPECTED[case]
