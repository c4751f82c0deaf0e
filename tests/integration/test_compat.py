"""Every body and chunk the bridge produces matches OpenAI's own OpenAPI schemas.

Besides these explicit cases, the `make_bridge` fixture validates every successful chat
response recorded by any test's clients when the test ends (see conftest.validate_recorded).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Bridge, validate_recorded
from tests.openapi import assert_valid, errors, sse_payloads

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CASES: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "user", "content": "<<say:hi there>>"}]},
    "tools": {
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": '<<tool:mcp__c__get_weather:{"city":"X"}>>'}],
    },
    "text+tools": {
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": '<<say:Let me check.>> <<tool:mcp__c__get_weather:{"city":"X"}>>'}],
    },
    "legacy": {
        "functions": [WEATHER["function"]],
        "messages": [{"role": "user", "content": '<<tool:mcp__c__get_weather:{"city":"X"}>>'}],
    },
    "json": {
        "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": '<<tool:StructuredOutput:{"a":1}>>'}],
    },
    "n2": {"n": 2, "messages": [{"role": "user", "content": "<<words:2>>"}]},
    "stop": {"stop": ["w2"], "messages": [{"role": "user", "content": "<<words:4>>"}]},
    "length": {"max_tokens": 2, "messages": [{"role": "user", "content": "<<words:5>>"}]},
    "usage": {"messages": [{"role": "user", "content": "<<usage:10:3:5:1>>"}]},
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_non_streamed_bodies_match_the_schema(bridge: Bridge, case: str) -> None:
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"model": "gpt-4o", **CASES[case]})
    assert resp.status_code == 200, resp.text
    assert_valid("CreateChatCompletionResponse", resp.json())


@pytest.mark.parametrize("case", sorted(CASES))
async def test_stream_chunks_match_the_schema(bridge: Bridge, case: str) -> None:
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True}, **CASES[case]}
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    payloads = sse_payloads(resp.content)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len(chunks) >= 3
    for chunk in chunks:
        assert_valid("CreateChatCompletionStreamResponse", chunk)
    assert chunks[-1]["usage"] is not None and chunks[-1]["choices"] == []


def test_the_validator_catches_violations() -> None:
    bad = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop_sequence"}],
    }
    assert errors("CreateChatCompletionResponse", bad), "a wrong finish_reason and missing logprobs must be caught"
    with pytest.raises(AssertionError):
        validate_recorded([("/v1/chat/completions", 200, json.dumps(bad).encode())])
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": None}],
    }
    assert errors("CreateChatCompletionStreamResponse", chunk)
