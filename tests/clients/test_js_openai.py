"""The `openai` npm package (tests/clients/js/openai_sdk.mjs) against a bridge on a real port."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio

from tests.clients.conftest import run_node
from tests.conftest import Bridge

pytestmark = pytest.mark.asyncio(loop_scope="module")
PERSON = {"name": "Ann", "age": 7}
EXPECTED: dict[str, Any] = {
    "chat": {"content": "Hello from openai-node", "finish": "stop", "object": "chat.completion"},
    "stream": {"deltas": ["w1 ", "w2 ", "w3 ", "w4"], "finish": "stop", "completion_tokens": 4},
    "parse": PERSON,
    "responses": {"text": "Hello from responses", "status": "completed", "object": "response"},
    "responses_stream": {"text": "w1 w2 w3", "first": "response.created", "last": "response.completed"},
    "responses_parse": PERSON,
    "responses_previous": "yes",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results(live: Bridge) -> dict[str, Any]:
    return await run_node("openai_sdk.mjs", live)


@pytest.mark.parametrize("case", list(EXPECTED))
async def test_case(results: dict[str, Any], case: str) -> None:
    assert case in results, f"the script reported no result for {case}"
    assert "error" not in results[case], results[case]
    assert results[case]["value"] == EXPECTED[case]
