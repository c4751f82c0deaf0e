"""`tool_choice` naming a function, or "required", yields a tool call every time.

The fake model here answers in text unless it is made to call (`<<textunlessforced>>`): by the
CLI's own structured-output reminder, or by the bridge asking again. It never gets a request
whose `tool_choice` forces a tool: the CLI sends none.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from bridge.translate.forced import REASKS
from tests.conftest import Bridge
from tests.fake_upstream import Recorded, said
from tests.sample_tools import WEATHER

TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}},
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def offered(req: Recorded) -> list[str]:
    return [t["name"] for t in req.body.get("tools", []) if not t.get("defer_loading")]


def last_said(req: Recorded) -> str:
    return said(req.messages[-1]["content"]) if req.messages[-1]["role"] == "user" else ""


async def create(bridge: Bridge, content: str, **extra: Any) -> Any:
    client = bridge.client()
    return await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": content}], **extra
    )


async def test_a_named_function_is_called_though_the_model_answers_in_text(bridge: Bridge) -> None:
    resp = await create(
        bridge, 'n1 <<textunlessforced>> <<args:{"city": "Oslo"}>>', tools=[WEATHER, TIME], tool_choice=NAMED
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}
    assert call.id.startswith("call_")
    first, second = bridge.fake.messages_requests()
    assert "tool_choice" not in first.body, "the CLI forces nothing upstream"
    assert offered(first) == ["StructuredOutput", "mcp__c__get_weather"], "the named function only"
    schema = next(t for t in first.body["tools"] if t["name"] == "StructuredOutput")["input_schema"]
    assert schema == WEATHER["function"]["parameters"]  # type: ignore[index]
    assert last_said(second).startswith("[structured-output-enforce]"), "the CLI's own reminder made it call"


async def test_a_stubborn_model_is_asked_again_and_calls_the_function_itself(bridge: Bridge) -> None:
    resp = await create(bridge, "n2 <<textunlessforced:1>>", tools=[WEATHER, TIME], tool_choice=NAMED, stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish, text = None, ""
    async for chunk in resp:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for tc in delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            entry["id"] += tc.id or ""
            entry["name"] += (tc.function.name or "") if tc.function else ""
            entry["args"] += (tc.function.arguments or "") if tc.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert text == "", "text of the attempts that did not call is never sent"
    assert finish == "tool_calls"
    assert list(calls.values()) == [{"id": calls[0]["id"], "name": "get_weather", "args": '{"city": "fake"}'}]
    requests = bridge.fake.messages_requests()
    assert len(requests) == 3, "first answer, the CLI's reminder, the bridge's re-ask"
    assert "`get_weather`" in last_said(requests[-1]) and "<system-reminder>" in last_said(requests[-1])
    assert requests[-1].messages[0]["content"][0] == {"type": "text", "text": "n2 <<textunlessforced:1>>"}


async def test_a_model_that_never_calls_gets_a_502_not_text(bridge: Bridge) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        await create(bridge, "n3 <<textunlessforced:99>>", tools=[WEATHER], tool_choice=NAMED)
    assert info.value.status_code == 502
    assert info.value.body["param"] == "tool_choice" and info.value.body["code"] == "tool_choice_not_followed"  # type: ignore[index]
    assert len(bridge.fake.messages_requests()) == 2 * (1 + REASKS), "each ask plus the CLI's reminder, bounded"


async def test_never_a_call_to_another_function(bridge: Bridge) -> None:
    resp = await create(
        bridge, "n4 <<textunlessforced>> <<tool:mcp__c__get_time:{}>>", tools=[WEATHER, TIME], tool_choice=NAMED
    )
    (call,) = resp.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    refused = bridge.fake.messages_requests()[1].messages[-1]["content"][0]
    assert refused["type"] == "tool_result" and refused["is_error"] and "No such tool" in refused["content"]


async def test_required_with_several_functions(bridge: Bridge) -> None:
    resp = await create(bridge, "r1 <<textunlessforced>>", tools=[TIME, WEATHER], tool_choice="required")
    (call,) = resp.choices[0].message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_time", {"zone": "UTC"})
    (first,) = bridge.fake.find("r1")
    assert offered(first) == ["StructuredOutput", "mcp__c__get_time", "mcp__c__get_weather"]
    schema = next(t for t in first.body["tools"] if t["name"] == "StructuredOutput")["input_schema"]
    assert [b["properties"]["name"]["const"] for b in schema["properties"]["tool_call"]["oneOf"]] == [
        "get_time",
        "get_weather",
    ]


async def test_required_takes_direct_calls_too_and_honours_parallel_tool_calls(bridge: Bridge) -> None:
    calls = [["mcp__c__get_weather", {"city": "Rome"}], ["mcp__c__get_time", {}]]
    resp = await create(
        bridge,
        f"r2 <<calls:{json.dumps(calls)}>>",
        tools=[WEATHER, TIME],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    (call,) = resp.choices[0].message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Rome"})
    assert call.id.startswith("toolu_"), "the model's own call, not a structured output"
    assert len(bridge.fake.messages_requests()) == 1


async def test_a_forced_call_after_a_replayed_tool_call_history(bridge: Bridge) -> None:
    history = [
        {"role": "user", "content": "h1 <<textunlessforced>>"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_t1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_t1", "content": "12:00"},
    ]
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        messages=history,
        tools=[WEATHER, TIME],
        tool_choice=NAMED,  # type: ignore[arg-type]
    )
    (call,) = resp.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    first = [m for m in bridge.fake.messages_requests()[0].messages if m["role"] != "system"]
    assert first[1]["content"][0]["name"] == "mcp__c__get_time", "history keeps the other tool's call"


async def test_tool_choice_none_still_offers_no_tools(bridge: Bridge) -> None:
    resp = await create(bridge, "x1 <<say:plain>>", tools=[WEATHER], tool_choice="none")
    assert resp.choices[0].message.content == "plain"
    assert bridge.fake.messages_requests()[0].body.get("tools", []) == []


async def test_legacy_function_call_by_name(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "functions": [WEATHER["function"], TIME["function"]],
                "function_call": {"name": "get_time"},
                "messages": [{"role": "user", "content": "l1 <<textunlessforced>>"}],
            },
        )
    choice = resp.json()["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {"name": "get_time", "arguments": '{"zone": "UTC"}'}


async def test_responses_api_named_and_required(bridge: Bridge) -> None:
    client = bridge.client()
    tools = [
        {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"], "strict": False},  # type: ignore[index]
        {"type": "function", "name": "get_time", "parameters": TIME["function"]["parameters"], "strict": False},  # type: ignore[index]
    ]
    resp = await client.responses.create(
        model="gpt-4o",
        input="p1 <<textunlessforced>>",
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "name": "get_weather"},
    )
    (item,) = resp.output
    assert (
        item.type == "function_call" and item.name == "get_weather" and json.loads(item.arguments) == {"city": "fake"}
    )
    stream = await client.responses.create(
        model="gpt-4o",
        input="p2 <<textunlessforced:1>>",
        tools=tools,
        tool_choice="required",
        stream=True,  # type: ignore[arg-type]
    )
    done = [event async for event in stream if event.type == "response.function_call_arguments.done"]
    assert [json.loads(e.arguments) for e in done] == [{"city": "fake"}]
