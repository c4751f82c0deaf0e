"""The Anthropic Messages API, with the real `anthropic` package (strict) against the bridge.

Every body is also checked against Anthropic's documented shapes: the package's own pydantic
models, strictly, with no undeclared field anywhere (tests/anthropic_shapes.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import pytest

from tests.anthropic_client import client, post, user
from tests.anthropic_shapes import assert_shape, event_names, stream_events
from tests.conftest import Bridge, MakeBridge
from tests.fake_upstream import block_text
from tests.images import tiny_png

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME = {"name": "get_time", "description": "The time", "input_schema": {"type": "object", "properties": {}}}


async def test_create_answers_with_a_message(bridge: Bridge) -> None:
    raw = await client(bridge).messages.with_raw_response.create(
        model="sonnet", max_tokens=200, messages=user("hi <<say:Hello there>> <<usage:40:7:5:3>>")
    )
    message = await raw.parse()
    assert_shape("Message", raw.http_response.json())
    assert message.content[0].type == "text" and message.content[0].text == "Hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.model == "sonnet" and message.id.startswith("msg_")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (40, 7)
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (5, 3)
    assert raw.http_response.headers["request-id"] == raw.http_response.headers["x-request-id"]
    assert "x-bridge-unapplied-params" not in raw.http_response.headers


async def test_stream_follows_anthropics_event_sequence(bridge: Bridge) -> None:
    body = {"model": "sonnet", "max_tokens": 100, "stream": True, "messages": user("<<words:3>> <<usage:30:4:0:0>>")}
    resp = await post(bridge, body)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = stream_events(resp.content)
    kinds = [kind for kind, _ in events]
    assert event_names(resp.content) == kinds, "every event is named by its type, as Anthropic's clients need"
    assert kinds == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] == 30 and start["content"] == [] and start["stop_reason"] is None
    assert [d["delta"]["text"] for k, d in events if k == "content_block_delta"] == ["w1 ", "w2 ", "w3"]
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 4 and delta["usage"]["input_tokens"] == 30


async def test_the_sdk_stream_helper_assembles_the_same_message(bridge: Bridge) -> None:
    async with client(bridge).messages.stream(
        model="sonnet", max_tokens=100, messages=user("<<say:one two three>> <<usage:12:3:0:0>>")
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "one two three" and len(texts) == 3
    assert final.content[0].type == "text" and final.content[0].text == "one two three"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 3)


async def test_tool_round_trip(bridge: Bridge) -> None:
    c = client(bridge)
    first = await c.messages.create(
        model="sonnet",
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=user('weather-rt <<tool:mcp__c__get_weather:{"city":"Paris"}>>'),
    )
    assert first.stop_reason == "tool_use"
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Paris"} and call.id.startswith("toolu_")
    upstream_tools = [t["name"] for t in bridge.fake.find("weather-rt")[0].body["tools"]]
    assert "mcp__c__get_weather" in upstream_tools, "a real tool of the model, never run by the bridge"
    second = await c.messages.create(
        model="sonnet",
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            *user('weather-rt <<tool:mcp__c__get_weather:{"city":"Paris"}>>'),
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "RAINY", "is_error": True}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text == "after-tool: RAINY"
    sent = bridge.fake.messages_requests()[-1].messages
    result = next(b for m in sent for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result")
    assert result["tool_use_id"] == call.id and result["is_error"] is True
    assert block_text(result["content"]) == "RAINY"


async def test_streamed_tool_calls_send_input_json_deltas(bridge: Bridge) -> None:
    body = {
        "model": "sonnet",
        "max_tokens": 300,
        "stream": True,
        "tools": [WEATHER, TIME],
        "messages": user('two <<calls:[["mcp__c__get_weather",{"city":"Oslo"}],["mcp__c__get_time",{}]]>>'),
    }
    events = stream_events((await post(bridge, body)).content)
    starts = [d for k, d in events if k == "content_block_start"]
    assert [s["content_block"]["name"] for s in starts] == ["get_weather", "get_time"]
    assert all(s["content_block"]["input"] == {} for s in starts)
    first_args = "".join(
        d["delta"]["partial_json"] for k, d in events if k == "content_block_delta" and d["index"] == starts[0]["index"]
    )
    assert json.loads(first_args) == {"city": "Oslo"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_disable_parallel_tool_use_keeps_one_call(bridge: Bridge) -> None:
    message = await client(bridge).messages.create(
        model="sonnet",
        max_tokens=300,
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=user('one-only <<calls:[["mcp__c__get_weather",{"city":"Oslo"}],["mcp__c__get_time",{}]]>>'),
    )
    assert [b.type for b in message.content] == ["tool_use"] and message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("choice", "names"),
    [({"type": "any"}, {"get_weather", "get_time"}), ({"type": "tool", "name": "get_time"}, {"get_time"})],
)
async def test_tool_choice_any_and_tool_force_a_call(bridge: Bridge, choice: dict[str, Any], names: set[str]) -> None:
    """A model that answers in text unless made to call still ends in a call (see the README's
    Forced tool calls), of the named tool for `tool`."""
    marker = f"choice-{choice['type']}"
    message = await client(bridge).messages.create(
        model="sonnet",
        max_tokens=100,
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice=choice,  # type: ignore[arg-type]
        messages=user(f"{marker} <<textunlessforced>>"),
    )
    uses = [b for b in message.content if b.type == "tool_use"]
    assert uses and {b.name for b in uses} <= names and message.stop_reason == "tool_use"


async def test_tool_choice_none_offers_no_tools(bridge: Bridge) -> None:
    await client(bridge).messages.create(
        model="sonnet",
        max_tokens=100,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "none"},
        messages=user("no-tools <<say:ok>>"),
    )
    (req,) = bridge.fake.find("no-tools")
    assert not any(t["name"].startswith("mcp__") for t in req.body.get("tools", []))


async def test_images_base64_and_by_url(bridge: Bridge) -> None:
    png = base64.b64encode(tiny_png()).decode()
    await client(bridge).messages.create(
        model="sonnet",
        max_tokens=100,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {"type": "text", "text": "two-images <<say:seen>>"},
                ],
            }
        ],
    )
    (req,) = bridge.fake.find("two-images")
    images = [b for m in req.messages if isinstance(m["content"], list) for b in m["content"] if b["type"] == "image"]
    assert [i["source"]["type"] for i in images] == ["base64", "url"]
    assert base64.b64decode(images[0]["source"]["data"]).startswith(b"\x89PNG")
    assert images[1]["source"]["url"] == "https://example.com/cat.png", "passed on: Anthropic fetches, never the host"


async def test_system_as_string_or_blocks_and_metadata_user(bridge: Bridge, logs: Any) -> None:
    c = client(bridge)
    await c.messages.create(model="sonnet", max_tokens=50, system="SYS-STRING rule", messages=user("sys-a <<say:ok>>"))
    await c.messages.create(
        model="sonnet",
        max_tokens=50,
        system=[{"type": "text", "text": "SYS-BLOCK-1"}, {"type": "text", "text": "SYS-BLOCK-2"}],
        metadata={"user_id": "user-42"},
        messages=user("sys-b <<say:ok>>"),
    )
    assert "SYS-STRING rule" in bridge.fake.find("sys-a")[0].system_text()
    system = bridge.fake.find("sys-b")[0].system_text()
    assert "SYS-BLOCK-1" in system and "SYS-BLOCK-2" in system
    assert any(e.get("event") == "request" and e.get("user") == "user-42" for e in logs)


async def test_stop_sequences_report_which_one_matched(bridge: Bridge) -> None:
    raw = await client(bridge).messages.with_raw_response.create(
        model="sonnet",
        max_tokens=100,
        stop_sequences=["NEVER", "STOP"],
        messages=user('<<chunks:["alpha ", "beta ST", "OP gamma"]>>'),
    )
    message = await raw.parse()
    assert_shape("Message", raw.http_response.json())
    assert message.content[0].type == "text" and message.content[0].text == "alpha beta "
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "STOP")
    assert raw.http_response.headers["x-bridge-usage-estimated"] == "output_tokens"


async def test_max_tokens_is_sent_upstream_and_reported(bridge: Bridge) -> None:
    message = await client(bridge).messages.create(model="sonnet", max_tokens=3, messages=user("capped <<words:10>>"))
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "w1 w2 w3 "
    assert bridge.fake.find("capped")[0].body["max_tokens"] == 3


async def test_thinking_and_effort_map_to_the_cli(bridge: Bridge) -> None:
    c = client(bridge)
    await c.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=user("think-budget <<say:ok>>"),
    )
    await c.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=8000,
        thinking={"type": "disabled"},
        messages=user("think-off <<say:ok>>"),
    )
    await c.messages.create(
        model="sonnet", max_tokens=100, output_config={"effort": "max"}, messages=user("effort-max <<say:ok>>")
    )
    raw = await c.messages.with_raw_response.create(
        model="sonnet",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=user("think-adaptive <<say:ok>>"),
    )
    assert bridge.fake.find("think-budget")[0].body["thinking"]["budget_tokens"] == 2048
    assert bridge.fake.find("think-off")[0].body["thinking"] == {"type": "disabled"}
    assert bridge.fake.find("effort-max")[0].body["output_config"]["effort"] == "max"
    # The CLI sends adaptive thinking to a model that has it, whatever the budget: said so.
    assert bridge.fake.find("think-adaptive")[0].body["thinking"]["type"] == "adaptive"
    assert raw.http_response.headers["x-bridge-unapplied-params"] == "thinking"


async def test_sampling_knobs_are_checked_and_reported_not_applied(bridge: Bridge) -> None:
    resp = await post(
        bridge,
        {
            "model": "sonnet",
            "max_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 5,
            "messages": user("<<say:ok>>"),
        },
        **{"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert resp.status_code == 200
    assert resp.headers["x-bridge-unapplied-params"] == "anthropic-beta,temperature,top_p,top_k"


async def test_x_api_key_and_bearer_both_authenticate(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(API_KEYS="sk-one,sk-two")
    message = await client(bridge, api_key="sk-two").messages.create(
        model="sonnet", max_tokens=50, messages=user("<<say:ok>>")
    )
    assert message.content[0].type == "text"
    bearer = await post(
        bridge, {"model": "sonnet", "max_tokens": 50, "messages": user("<<say:ok>>")}, Authorization="Bearer sk-one"
    )
    assert bearer.status_code == 200
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await client(bridge, api_key="sk-wrong").messages.create(model="sonnet", max_tokens=5, messages=user("x"))
    assert caught.value.status_code == 401 and caught.value.type == "authentication_error"
    assert_shape("ErrorResponse", caught.value.body)


BAD_REQUESTS = [
    ({"model": "sonnet", "messages": user("x")}, "max_tokens: Field required"),
    ({"model": "sonnet", "max_tokens": 5, "messages": user("x"), "bogus": 1}, "bogus: Extra inputs"),
    (
        {"model": "sonnet", "max_tokens": 5, "messages": [*user("x"), {"role": "assistant", "content": "The"}]},
        "prefill",
    ),
    (
        {
            "model": "sonnet",
            "max_tokens": 5,
            "messages": user("x"),
            "tools": [{"type": "bash_20250124", "name": "bash"}],
        },
        "nothing runs on this bridge's host",
    ),
    (
        {
            "model": "sonnet",
            "max_tokens": 5,
            "messages": user("x"),
            "tools": [{"type": "web_search_20250305", "name": "w"}],
        },
        "SECURITY_MODE=web",
    ),
    (
        {
            "model": "sonnet",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}]}
            ],
        },
        "answers no earlier tool_use",
    ),
    (
        {
            "model": "sonnet",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}}
                    ],
                }
            ],
        },
        "not a image/png image",
    ),
    ({"model": "sonnet", "max_tokens": 5, "messages": user("x"), "temperature": 1.5}, "temperature: must be between"),
    (
        {
            "model": "sonnet",
            "max_tokens": 2000,
            "messages": user("x"),
            "thinking": {"type": "enabled", "budget_tokens": 10},
        },
        "thinking.budget_tokens",
    ),
]


@pytest.mark.parametrize(("body", "says"), BAD_REQUESTS)
async def test_bad_requests_get_anthropic_errors(bridge: Bridge, body: dict[str, Any], says: str) -> None:
    resp = await post(bridge, body)
    assert resp.status_code == 400, resp.text
    error = assert_shape("ErrorResponse", resp.json())
    assert error.error.type == "invalid_request_error" and says in error.error.message
    assert error.request_id == resp.headers["request-id"]
    assert not bridge.fake.messages_requests(), "refused before anything went upstream"


async def test_errors_map_to_anthropics_status_and_type(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(MAX_RETRIES="0")
    c = client(bridge)
    with pytest.raises(anthropic.NotFoundError) as missing:
        await c.messages.create(model="no-such-model", max_tokens=5, messages=user("x"))
    assert missing.value.type == "not_found_error"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await c.messages.create(model="sonnet", max_tokens=5, messages=user("busy <<error:529>>"))
    assert overloaded.value.status_code == 529 and overloaded.value.type == "overloaded_error"
    with pytest.raises(anthropic.RateLimitError) as limited:
        await c.messages.create(model="sonnet", max_tokens=5, messages=user("slow down <<error:429>>"))
    assert limited.value.type == "rate_limit_error"
    for err in (missing.value, overloaded.value, limited.value):
        assert_shape("ErrorResponse", err.body)
    wrong_method = await bridge.http().get("/v1/messages")
    assert wrong_method.status_code == 405 and wrong_method.json()["type"] == "error"


async def test_an_error_after_the_stream_started_is_an_error_event(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(REQUEST_TIMEOUT="3", MAX_RETRIES="0")
    resp = await post(
        bridge, {"model": "sonnet", "max_tokens": 50, "stream": True, "messages": user("<<hangafter:2>>")}
    )
    events = stream_events(resp.content)
    assert resp.status_code == 200 and events[0][0] == "message_start"
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "timeout_error"


async def test_count_tokens_is_the_clis_own_count(bridge: Bridge) -> None:
    c = client(bridge)
    system = "COUNT-SYSTEM unique rules for this test"
    raw = await c.messages.with_raw_response.count_tokens(
        model="sonnet", system=system, messages=user("count-me " + "word " * 50)
    )
    counted = await raw.parse()
    assert_shape("MessageTokensCount", raw.http_response.json())
    assert "x-bridge-usage-estimated" not in raw.http_response.headers
    calls = [r for r in bridge.fake.requests if r.path.endswith("/count_tokens")]
    assert calls, "the CLI asked Anthropic's counting API"
    assert not bridge.fake.messages_requests(), "counting makes no model turn"
    answers = {json.dumps(r.body["messages"]): r for r in calls}
    from tests.fake_upstream import count_tokens as fake_count

    def count_of(r: Any) -> int:
        return fake_count({k: r.body[k] for k in ("system", "messages", "tools") if r.body.get(k)})

    messages_part = next(r for r in answers.values() if "count-me" in json.dumps(r.body["messages"]))
    system_part = next(r for r in answers.values() if json.dumps(r.body["messages"]) == json.dumps(user(system)))
    assert counted.input_tokens == count_of(messages_part) + count_of(system_part)
    longer = await c.messages.count_tokens(model="sonnet", system=system, messages=user("count-me " + "word " * 500))
    assert longer.input_tokens > counted.input_tokens


async def test_count_tokens_labels_what_it_estimates(bridge: Bridge) -> None:
    c = client(bridge)
    plain = await c.messages.count_tokens(model="sonnet", messages=user("count-tools"))
    with_tools = await c.messages.with_raw_response.count_tokens(
        model="sonnet",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=user("count-tools"),
    )
    # The CLI leaves the tool definitions out of its count: the bridge adds an estimate, and says so.
    assert with_tools.http_response.headers["x-bridge-usage-estimated"] == "input_tokens; part=tools"
    assert (await with_tools.parse()).input_tokens > plain.input_tokens


async def test_count_tokens_when_the_counting_api_fails(bridge: Bridge) -> None:
    # Measured: the CLI then answers with its own local estimate and does not say so; the bridge
    # cannot tell either, so the figure is passed on as the CLI's (see the README).
    failing = await client(bridge).messages.with_raw_response.count_tokens(
        model="sonnet", messages=user("<<counterror:500>>")
    )
    assert failing.http_response.status_code == 200
    assert "x-bridge-usage-estimated" not in failing.http_response.headers
    assert (await failing.parse()).input_tokens > 0
    assert any(r.path.endswith("/count_tokens") for r in bridge.fake.requests)


async def test_nothing_runs_on_the_host_whatever_the_request_says(bridge: Bridge, tmp_path: Any) -> None:
    target = tmp_path / "bash-was-here"
    # The upstream asks for the CLI's Bash; a client tool merely named like a server tool is the client's.
    message = await client(bridge).messages.create(
        model="sonnet",
        max_tokens=100,
        tools=[{"name": "bash", "description": "a client tool", "input_schema": {"type": "object"}}],
        messages=user(f"<<bash:touch {target}>>"),
    )
    assert not target.exists(), "Bash ran on the host"
    assert message.content and message.content[0].type == "text", "the client still gets an answer"
    assert all(b.type != "tool_use" for b in message.content), "the CLI's Bash is never offered as a client call"


async def test_thinking_is_shown_as_thinking_blocks(bridge: Bridge) -> None:
    """With `thinking` on, Claude's readable thinking comes first as `thinking` blocks, streamed
    as thinking_delta; the signature stays with the bridge (the block's is empty)."""
    anthropic_client = client(bridge)
    raw = await anthropic_client.messages.with_raw_response.create(
        model="sonnet",
        max_tokens=2000,
        thinking={"type": "adaptive"},
        messages=user("show-thinking <<think:first weigh the options>> <<say:done>>"),
    )
    assert_shape("Message", raw.http_response.json())
    message = await raw.parse()
    assert [b.type for b in message.content] == ["thinking", "text"]
    thought = message.content[0]
    assert thought.type == "thinking" and thought.thinking == "first weigh the options" and thought.signature == ""
    async with anthropic_client.messages.stream(
        model="sonnet",
        max_tokens=2000,
        thinking={"type": "adaptive"},
        messages=user("stream-thinking <<think:step by step>> <<say:ok>>"),
    ) as stream:
        deltas = [e.delta.type async for e in stream if e.type == "content_block_delta"]
        final = await stream.get_final_message()
    assert deltas[0] == "thinking_delta" and "text_delta" in deltas
    assert final.content[0].type == "thinking" and final.content[0].thinking == "step by step"
    hidden = await anthropic_client.messages.create(
        model="sonnet",
        max_tokens=2000,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=user("hidden-thinking <<think:secret plan>> <<say:ok>>"),
    )
    assert [b.type for b in hidden.content] == ["text"] and "secret plan" not in hidden.model_dump_json()
