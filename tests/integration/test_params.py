"""response_format, stop, n, max_tokens, images and reasoning_effort, through the real CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import openai
import pydantic
import pytest

from tests.conftest import Bridge
from tests.images import tiny_png
from tests.openapi import sse_payloads

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def structured(value: object) -> str:
    return f"<<tool:StructuredOutput:{json.dumps(value)}>>"


async def test_json_schema_content_parses_and_validates(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
        messages=[{"role": "user", "content": "who " + structured({"name": "Zed", "age": 33})}],
    )
    assert json.loads(resp.choices[0].message.content or "") == {"name": "Zed", "age": 33}
    assert resp.choices[0].finish_reason == "stop"
    (req,) = bridge.fake.find("who ")
    (tool,) = [t for t in req.body["tools"] if t["name"] == "StructuredOutput"]
    assert tool["input_schema"] == PERSON, "the CLI's own structured-output tool carries the schema"


async def test_parse_with_a_pydantic_model(bridge: Bridge) -> None:
    class Person(pydantic.BaseModel):
        name: str
        age: int

    client = bridge.client()
    resp = await client.chat.completions.parse(
        model="gpt-4o",
        response_format=Person,
        messages=[{"role": "user", "content": "parse " + structured({"name": "Ada", "age": 36})}],
    )
    assert resp.choices[0].message.parsed == Person(name="Ada", age=36)


async def test_json_object_streamed(bridge: Bridge) -> None:
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "obj <<say:Here you go:>> " + structured({"ok": True, "n": [1, 2]})}],
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert json.loads(text) == {"ok": True, "n": [1, 2]}, "only the JSON is content, not the preamble"


async def test_json_that_does_not_match_is_an_error_not_content(bridge: Bridge) -> None:
    client = bridge.client()
    with pytest.raises(openai.APIStatusError) as info:
        await client.chat.completions.create(
            model="gpt-4o",
            response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}},
            messages=[{"role": "user", "content": "bad <<say:I will not answer in JSON.>>"}],
        )
    assert info.value.status_code == 502
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "invalid_structured_output"


LOOKUP = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_with_tools_calls_tools_then_answers_in_json(bridge: Bridge, stream: bool) -> None:
    """An agent with tools and a structured final answer (the Agents SDK's `output_type`)."""
    client = bridge.client()
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    then = f"<<thentool:StructuredOutput:{json.dumps({'name': 'Zed', 'age': 33})}>>"
    ask = f'combo {stream} <<tool:mcp__c__lookup:{{"q": "Zed"}}>> {then}'
    messages: list = [{"role": "user", "content": ask}]  # type: ignore[type-arg]
    first = await client.chat.completions.create(
        model="gpt-4o",
        response_format=fmt,
        tools=[LOOKUP],
        messages=messages,  # type: ignore[arg-type,list-item]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"q": "Zed"}
    (req,) = bridge.fake.find(f"combo {stream}")
    assert {"StructuredOutput", "mcp__c__lookup"} <= {t["name"] for t in req.body["tools"]}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "33"},
    ]
    if not stream:
        second = await client.chat.completions.create(
            model="gpt-4o",
            response_format=fmt,
            tools=[LOOKUP],
            messages=messages,  # type: ignore[arg-type,list-item]
        )
        assert second.choices[0].finish_reason == "stop"
        assert json.loads(second.choices[0].message.content or "") == {"name": "Zed", "age": 33}
        return
    chunks = [
        c
        async for c in await client.chat.completions.create(
            model="gpt-4o",
            response_format=fmt,
            tools=[LOOKUP],
            messages=messages,
            stream=True,  # type: ignore[arg-type,list-item]
        )
    ]
    assert json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices)) == {
        "name": "Zed",
        "age": 33,
    }
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


async def test_text_format_with_tools_on_responses(bridge: Bridge) -> None:
    client = bridge.client()
    text = {"format": {"type": "json_schema", "name": "person", "schema": PERSON, "strict": True}}
    tool = {"type": "function", "name": "lookup", "parameters": LOOKUP["function"]["parameters"]}  # type: ignore[index]
    first = await client.responses.create(
        model="gpt-4o",
        text=text,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
        input='<<tool:mcp__c__lookup:{"q": "Ada"}>> <<thentool:StructuredOutput:{"name": "Ada", "age": 36}>>',
    )
    (call,) = first.output
    assert call.type == "function_call" and call.name == "lookup"
    second = await client.responses.create(
        model="gpt-4o",
        text=text,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "36"}],
    )
    assert json.loads(second.output_text) == {"name": "Ada", "age": 36}


async def test_stop_cuts_the_answer_and_the_upstream(bridge: Bridge) -> None:
    client = bridge.client()
    started = time.monotonic()
    resp = await client.chat.completions.create(
        model="gpt-4o", stop=["w4"], messages=[{"role": "user", "content": "stopme <<words:40>> <<gap:100>>"}]
    )
    assert resp.choices[0].message.content == "w1 w2 w3 "
    assert resp.choices[0].finish_reason == "stop"
    assert time.monotonic() - started < 3, "the turn was cut short, not generated to the end"
    (req,) = bridge.fake.find("stopme")
    for _ in range(100):
        if req.disconnected:
            break
        await asyncio.sleep(0.02)
    assert req.disconnected is not None, "the upstream generation was interrupted"
    assert resp.usage is not None and resp.usage.completion_tokens > 0


async def test_stop_split_across_streamed_deltas(bridge: Bridge) -> None:
    pieces = ["alpha be", "ta ST", "OP gamma", " delta"]
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "stream": True,
                "stop": "STOP",
                "messages": [{"role": "user", "content": f"<<chunks:{json.dumps(pieces)}>>"}],
            },
        )
    assert resp.headers["x-bridge-usage-estimated"].startswith("completion_tokens")
    payloads = [json.loads(p) for p in sse_payloads(resp.content) if p != "[DONE]"]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
    assert text == "alpha beta "
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"


async def test_n_choices_run_in_parallel(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="3")
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", n=3, messages=[{"role": "user", "content": "many <<delay:600>> <<say:one answer>>"}]
    )
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert all(c.message.content == "one answer" for c in resp.choices)
    assert len(bridge.fake.find("many")) == 3
    assert bridge.fake.max_in_flight == 3
    assert resp.usage is not None
    # n choices are n upstream turns; their usage adds up (the fake reports 2 output tokens each).
    assert resp.usage.completion_tokens == 3 * 2


async def test_n_choices_streamed(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="gpt-4o",
        n=2,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "<<words:3>>"}],
    )
    texts: dict[int, str] = {0: "", 1: ""}
    finishes = {}
    usage = None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert texts == {0: "w1 w2 w3", 1: "w1 w2 w3"}
    assert finishes == {0: "stop", 1: "stop"}
    assert usage is not None and usage.completion_tokens == 2 * 3


async def test_max_tokens_is_sent_upstream_and_ends_with_length(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", max_completion_tokens=3, messages=[{"role": "user", "content": "cap <<words:10>>"}]
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == "w1 w2 w3 "
    (req,) = bridge.fake.find("cap")
    assert req.body["max_tokens"] == 3
    again = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "uncapped <<words:10>>"}]
    )
    assert again.choices[0].finish_reason == "stop"
    (req,) = bridge.fake.find("uncapped")
    assert req.body["max_tokens"] > 3, "a slot's earlier limit does not stick to the next request"


async def test_images_reach_the_model_as_image_blocks(bridge: Bridge) -> None:
    png = base64.b64encode(tiny_png()).decode()
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe-img <<say:a pixel>>"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    )
    (req,) = bridge.fake.find("describe-img")
    images = [b for m in req.messages if isinstance(m["content"], list) for b in m["content"] if b["type"] == "image"]
    assert len(images) == 1
    assert images[0]["source"]["media_type"] == "image/png"
    assert base64.b64decode(images[0]["source"]["data"]).startswith(b"\x89PNG")


async def test_reasoning_effort_maps_to_the_cli_effort(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(
        model="o3", reasoning_effort="high", messages=[{"role": "user", "content": "effort-high <<say:k>>"}]
    )
    await client.chat.completions.create(
        model="o3", reasoning_effort="minimal", messages=[{"role": "user", "content": "effort-min <<say:k>>"}]
    )
    assert bridge.fake.find("effort-high")[0].body["output_config"]["effort"] == "high"
    assert bridge.fake.find("effort-min")[0].body["output_config"]["effort"] == "low"
