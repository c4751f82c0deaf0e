"""/v1/messages checks every content block field as Anthropic does, and structured output works
with tools. Real `anthropic` client (strict) and raw HTTP against the bridge and the real CLI.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pydantic
import pytest

from tests.anthropic_client import client, post, user
from tests.anthropic_shapes import assert_shape
from tests.block_examples import EXAMPLES
from tests.block_examples import TEXT as CITED_TEXT
from tests.conftest import Bridge

# Blocks an assistant message holds; the others go in a user message.
ASSISTANT_SIDE = {
    "thinking",
    "redacted_thinking",
    "tool_use",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
}
# For each block type, a field given a value of the wrong type, and the path the 400 names.
WRONG: dict[str, tuple[tuple[Any, ...], Any]] = {
    "text": (("text",), 7),
    "image": (("source", "media_type"), 7),
    "document": (("title",), 7),
    "search_result": (("content", 0, "text"), False),
    "thinking": (("signature",), 12345),
    "redacted_thinking": (("data",), 1),
    "tool_use": (("input",), "not an object"),
    "tool_result": (("is_error",), "yes"),
    "server_tool_use": (("id",), 3),
    "web_search_tool_result": (("content", 0, "url"), 3),
    "web_fetch_tool_result": (("content", "content", "source", "data"), 3),
    "code_execution_tool_result": (("content", "return_code"), "0"),
    "bash_code_execution_tool_result": (("content", "error_code"), 5),
    "text_editor_code_execution_tool_result": (("content", "is_file_update"), "no"),
    "tool_search_tool_result": (("content", "tool_references", 0, "tool_name"), []),
    "container_upload": (("file_id",), {"id": 1}),
}


def _body(block: dict[str, Any], kind: str) -> tuple[dict[str, Any], str]:
    """A request carrying `block` where Anthropic allows it, and the block's path."""
    if kind in ASSISTANT_SIDE:
        messages = [*user("before"), {"role": "assistant", "content": [block]}, *user("after")]
        return {"model": "sonnet", "max_tokens": 50, "messages": messages}, "messages.1.content.0"
    return {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": [block]}]}, (
        "messages.0.content.0"
    )


def test_every_block_type_has_a_wrong_field() -> None:
    assert set(WRONG) == set(EXAMPLES)


@pytest.mark.parametrize("kind", sorted(WRONG))
async def test_a_wrongly_typed_block_field_is_a_400_and_nothing_goes_upstream(bridge: Bridge, kind: str) -> None:
    block = copy.deepcopy(EXAMPLES[kind])
    path, value = WRONG[kind]
    holder: Any = block
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    body, where = _body(block, kind)
    resp = await post(bridge, body)
    assert resp.status_code == 400, resp.text
    error = assert_shape("ErrorResponse", resp.json())
    assert resp.json()["type"] == "error" and error.error.type == "invalid_request_error"
    field = ".".join([where, *map(str, path)])
    assert error.error.message.startswith(f"{field}: "), error.error.message
    assert not bridge.fake.requests, "nothing reached the upstream"


async def test_a_thinking_signature_that_is_a_number_is_refused_everywhere(bridge: Bridge) -> None:
    """The case issue 17 found: it used to be a 200 with X-Bridge-Unapplied-Params: thinking."""
    thinking = {"type": "thinking", "thinking": "hmm", "signature": 5}
    messages = [*user("q"), {"role": "assistant", "content": [thinking, {"type": "text", "text": "a"}]}, *user("q2")]
    for path, extra in (("/v1/messages", {"max_tokens": 50}), ("/v1/messages/count_tokens", {})):
        resp = await post(bridge, {"model": "sonnet", "messages": messages, **extra}, path=path)
        assert resp.status_code == 400, (path, resp.text)
        body = resp.json()
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert body["error"]["message"].startswith("messages.1.content.0.signature: Input should be a valid string")
    assert not bridge.fake.requests


async def test_shapes_anthropic_accepts_stay_accepted(bridge: Bridge) -> None:
    cache = {"type": "ephemeral", "ttl": "1h"}
    resp = await post(
        bridge,
        {
            "model": "sonnet",
            "max_tokens": 50,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": cache}],
            "cache_control": {"type": "ephemeral"},
            "tools": [{**_weather(), "cache_control": cache}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "first", "cache_control": None}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "t", "signature": "s"},
                        {"type": "redacted_thinking", "data": "d"},
                        CITED_TEXT,
                        {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_9", "content": "RAIN", "cache_control": cache},
                        {"type": "text", "text": "accepted", "cache_control": cache},
                    ],
                },
            ],
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"].startswith("after-tool: RAIN")
    assert set(resp.headers["X-Bridge-Unapplied-Params"].split(",")) >= {"cache_control", "citations", "thinking"}


def _weather() -> dict[str, Any]:
    return {
        "name": "lookup",
        "description": "Look a person up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }


class Person(pydantic.BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("stream", [False, True])
async def test_structured_output_with_tools(bridge: Bridge, stream: bool) -> None:
    """`output_config.format` with `tools`, as chat's `response_format` with tools: each turn ends with
    tool calls or with the JSON; the anthropic client's `parse`/`stream` reads it as the model."""
    c = client(bridge)
    then = f"<<thentool:StructuredOutput:{json.dumps({'name': 'Zed', 'age': 33})}>>"
    ask = user(f'combo-{stream} <<tool:mcp__c__lookup:{{"q": "Zed"}}>> {then}')
    first = await c.messages.parse(
        model="sonnet", max_tokens=300, tools=[_weather()], output_format=Person, messages=ask
    )
    assert first.stop_reason == "tool_use"
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "lookup" and call.input == {"q": "Zed"}
    (sent,) = bridge.fake.find(f"combo-{stream}")
    assert {"StructuredOutput", "mcp__c__lookup"} <= {t["name"] for t in sent.body["tools"]}
    messages = [
        *ask,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "33"}]},
    ]
    if stream:
        async with c.messages.stream(
            model="sonnet",
            max_tokens=300,
            tools=[_weather()],  # type: ignore[list-item]
            output_format=Person,
            messages=messages,  # type: ignore[arg-type]
        ) as events:
            second = await events.get_final_message()
    else:
        second = await c.messages.parse(
            model="sonnet",
            max_tokens=300,
            tools=[_weather()],  # type: ignore[list-item]
            output_format=Person,
            messages=messages,  # type: ignore[arg-type]
        )
    assert second.stop_reason == "end_turn"
    assert second.parsed_output == Person(name="Zed", age=33)
