"""Function calling: real tools upstream, tool_calls back, the round trip, nothing executed."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.conftest import Bridge
from tests.fake_upstream import block_text
from tests.sample_tools import TIME, WEATHER, call


async def test_tools_reach_the_model_as_real_tools_and_calls_come_back(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather? " + call("get_weather", {"city": "Paris"})}],
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (tool_call,) = choice.message.tool_calls or []
    assert tool_call.type == "function"
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}
    assert tool_call.id
    (req,) = bridge.fake.find("weather?")
    offered = {t["name"]: t for t in req.body["tools"]}
    assert offered["mcp__c__get_weather"]["input_schema"] == WEATHER["function"]["parameters"]  # type: ignore[index]
    assert offered["mcp__c__get_weather"]["description"] == "Current weather for a city."
    assert "mcp__c__get_time" in offered
    assert not {"Bash", "Write", "Read", "Edit"} & set(offered)


async def test_parallel_calls_stream_with_distinct_indexes(bridge: Bridge) -> None:
    client = bridge.client()
    calls = [["mcp__c__get_weather", {"city": "Oslo"}], ["mcp__c__get_time", {}]]
    stream = await client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        messages=[{"role": "user", "content": f"both <<say:Checking.>> <<calls:{json.dumps(calls)}>>"}],
    )
    text, calls_seen, finish = "", {}, None
    async for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for tc in delta.tool_calls or []:
            entry = calls_seen.setdefault(tc.index, {"id": None, "name": None, "args": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["args"] += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert text == "Checking."
    assert finish == "tool_calls"
    assert sorted(calls_seen) == [0, 1]
    assert calls_seen[0]["name"] == "get_weather" and json.loads(calls_seen[0]["args"]) == {"city": "Oslo"}
    assert calls_seen[1]["name"] == "get_time" and json.loads(calls_seen[1]["args"]) == {}
    assert calls_seen[0]["id"] != calls_seen[1]["id"]


async def test_the_round_trip_gives_the_model_calls_and_results_in_order(bridge: Bridge) -> None:
    client = bridge.client()
    first = await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "rt " + call("get_weather", {"city": "Rome"})}],
    )
    assistant = first.choices[0].message
    (tc,) = assistant.tool_calls or []
    second = await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "rt " + call("get_weather", {"city": "Rome"})},
            assistant.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": tc.id, "content": "SUNNY-24C"},
        ],
    )
    assert second.choices[0].message.content == "after-tool: SUNNY-24C"
    assert second.choices[0].finish_reason == "stop"
    req = bridge.fake.messages_requests()[-1]
    convo = [m for m in req.messages if m["role"] != "system"]
    assert [m["role"] for m in convo] == ["user", "assistant", "user"]
    (tool_use,) = [b for b in convo[1]["content"] if b["type"] == "tool_use"]
    assert tool_use == {"type": "tool_use", "id": tc.id, "name": "mcp__c__get_weather", "input": {"city": "Rome"}}
    # The CLI may mark its newest user message as a prompt-cache breakpoint; that is not content.
    results = [{k: v for k, v in b.items() if k != "cache_control"} for b in convo[2]["content"]]
    assert results == [{"type": "tool_result", "tool_use_id": tc.id, "content": "SUNNY-24C"}]


async def test_a_client_tool_named_like_a_builtin_runs_nothing(bridge: Bridge, tmp_path: Path) -> None:
    target = tmp_path / "client-bash-ran"
    bash = {
        "type": "function",
        "function": {"name": "Bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}},
    }
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        tools=[bash],  # type: ignore[list-item]
        messages=[{"role": "user", "content": call("Bash", {"command": f"touch {target}"})}],
    )
    (tc,) = resp.choices[0].message.tool_calls or []
    assert tc.function.name == "Bash"
    assert json.loads(tc.function.arguments) == {"command": f"touch {target}"}
    assert not target.exists(), "the bridge never executes a client tool"


async def test_named_tool_choice_and_required_are_passed_on(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        messages=[{"role": "user", "content": "named " + call("get_time", {})}],
    )
    (req,) = bridge.fake.find("named")
    assert "`get_time`" in block_text(req.messages[0]["content"])


async def test_tool_choice_none_offers_no_tools(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER],
        tool_choice="none",  # type: ignore[list-item]
        messages=[{"role": "user", "content": "none-choice <<say:plain>>"}],
    )
    assert resp.choices[0].message.content == "plain"
    (req,) = bridge.fake.find("none-choice")
    assert req.body.get("tools", []) == []


async def test_tool_sets_never_leak_between_requests(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "leak1 " + call("get_weather", {"city": "A"})}],
    )
    await client.chat.completions.create(
        model="gpt-4o",
        tools=[TIME],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "leak2 <<say:x>>"}],
    )
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "leak3 <<say:x>>"}])
    (second,) = bridge.fake.find("leak2")
    assert [t["name"] for t in second.body["tools"] if not t.get("defer_loading")] == ["mcp__c__get_time"]
    (third,) = bridge.fake.find("leak3")
    assert third.body.get("tools", []) == []


async def test_legacy_functions(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "functions": [WEATHER["function"]],
                "messages": [{"role": "user", "content": "legacy " + call("get_weather", {"city": "Bern"})}],
            },
        )
    choice = resp.json()["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {"name": "get_weather", "arguments": '{"city": "Bern"}'}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 5}}}
                ]
            },
            "tools[0].function.parameters",
        ),
    ],
)
async def test_bad_tool_requests(bridge: Bridge, extra: dict, param: str) -> None:  # type: ignore[type-arg]
    client = bridge.client()
    body = {"tools": [WEATHER], **extra}
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], **body)
    assert info.value.param == param
