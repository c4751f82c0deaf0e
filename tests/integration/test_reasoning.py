"""Claude's thinking as reasoning, through the real CLI: chat, Responses, and the tool round trip."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import Bridge, MakeBridge
from tests.fake_upstream import REDACTED_MARKER
from tests.openapi import assert_valid
from tests.responses_events import validate_events
from tests.sample_tools import WEATHER

THINK = "<<think:Weighing two options carefully.>>"


def leaked(bridge: Bridge, raw: bytes) -> list[str]:
    """Signatures or redacted data the fake issued that appear in what a client received."""
    secrets = [*bridge.fake.signatures, *bridge.fake.redacted, REDACTED_MARKER]
    return [s for s in secrets if s.encode() in raw]


async def test_chat_returns_thinking_as_reasoning_content(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="o3",
        reasoning_effort="high",
        messages=[{"role": "user", "content": f"plan? {THINK} <<redacted>> <<say:Option two.>>"}],
    )
    message = resp.choices[0].message
    assert message.content == "Option two."
    assert (message.model_extra or {}).get("reasoning_content") == "Weighing two options carefully."
    (req,) = bridge.fake.find("plan?")
    assert req.body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert req.body["output_config"]["effort"] == "high"
    usage = resp.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 4 + 5, "4 thinking words + 5 for the redacted block"
    raw = b"".join(body for _, _, body in bridge.recorded)
    assert not leaked(bridge, raw)


async def test_streamed_reasoning_comes_before_the_answer(bridge: Bridge) -> None:
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="o3",
        reasoning_effort="medium",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": f"stream-think {THINK} <<think:ignored second>> <<say:Done now.>>"}],
    )
    order, reasoning, content, usage = [], "", "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            piece = (choice.delta.model_extra or {}).get("reasoning_content")
            if piece:
                reasoning += piece
                order.append("reasoning")
            if choice.delta.content:
                content += choice.delta.content
                order.append("content")
    assert reasoning == "Weighing two options carefully."
    assert content == "Done now."
    assert order.index("content") > max(i for i, kind in enumerate(order) if kind == "reasoning")
    assert order.count("reasoning") == 4, "one delta per thinking_delta of the upstream"
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 4
    assert not leaked(bridge, b"".join(body for _, _, body in bridge.recorded))


async def test_no_reasoning_unless_asked(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"quiet {THINK} <<say:Plain.>>"}]
    )
    assert "reasoning_content" not in (resp.choices[0].message.model_extra or {})
    (req,) = bridge.fake.find("quiet")
    assert req.body["thinking"].get("display") != "summarized", "the CLI's own default display"
    # reasoning_effort "none" asks for no reasoning
    resp = await client.chat.completions.create(
        model="o3", reasoning_effort="none", messages=[{"role": "user", "content": f"none {THINK} <<say:x>>"}]
    )
    assert "reasoning_content" not in (resp.choices[0].message.model_extra or {})
    # the display follows each request on the same warm process
    resp = await client.chat.completions.create(
        model="o3", reasoning_effort="low", messages=[{"role": "user", "content": f"again {THINK} <<say:y>>"}]
    )
    assert (resp.choices[0].message.model_extra or {}).get("reasoning_content")


async def test_show_reasoning_setting_always_shows_it(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(SHOW_REASONING="true", POOL_SIZE="1")
    resp = await bridge.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"always {THINK} <<say:ok>>"}]
    )
    assert (resp.choices[0].message.model_extra or {}).get("reasoning_content") == "Weighing two options carefully."


@pytest.mark.parametrize("reasoning_effort", ["high", None], ids=["shown", "not-shown"])
async def test_tool_round_trip_puts_the_signed_thinking_back(bridge: Bridge, reasoning_effort: str | None) -> None:
    """OpenAI clients drop the signed thinking; the API refuses the tool_use without it."""
    client = bridge.client()
    marker = f"weather-{reasoning_effort}"
    first_messages = [
        {
            "role": "user",
            "content": f'{marker} <<think:I need the weather.>> <<tool:mcp__c__get_weather:{{"city":"Oslo"}}>>',
        }
    ]
    extra = {"reasoning_effort": reasoning_effort} if reasoning_effort else {}
    first = await client.chat.completions.create(
        model="o3",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=first_messages,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    (call,) = first.choices[0].message.tool_calls or []
    history = [
        *first_messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "SNOW"},
    ]
    second = await client.chat.completions.create(
        model="o3",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=history,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )
    assert second.choices[0].message.content == "after-tool: SNOW"
    replay = bridge.fake.messages_requests()[-1]
    (assistant,) = [m for m in replay.messages if m["role"] == "assistant"]
    assert assistant["content"][0]["type"] == "thinking"
    assert assistant["content"][0]["signature"] in bridge.fake.signatures
    assert assistant["content"][-1]["id"] == call.id


async def test_without_the_kept_thinking_the_api_refuses(make_bridge: MakeBridge) -> None:
    """The control: another bridge (its own cache) replays the same history and the fake says 400."""
    first_bridge = await make_bridge(POOL_SIZE="1")
    first_messages = [
        {"role": "user", "content": 'control <<think:Hmm.>> <<tool:mcp__c__get_weather:{"city":"Rome"}>>'}
    ]
    first = await first_bridge.client().chat.completions.create(
        model="o3",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=first_messages,  # type: ignore[arg-type]
    )
    (call,) = first.choices[0].message.tool_calls or []
    other = await make_bridge(POOL_SIZE="1")
    history = [
        *first_messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "SUN"},
    ]
    with pytest.raises(openai.APIStatusError) as caught:
        await other.client().chat.completions.create(
            model="o3",
            tools=[WEATHER],  # type: ignore[list-item]
            messages=history,  # type: ignore[arg-type]
        )
    assert "must start with a thinking block" in str(caught.value)


async def test_responses_reasoning_item_with_summary(bridge: Bridge) -> None:
    async with bridge.http() as http:
        body = (
            await http.post(
                "/v1/responses",
                json={
                    "model": "o3",
                    "input": f"resp-think {THINK} <<say:Answer.>>",
                    "reasoning": {"summary": "auto"},
                },
            )
        ).json()
    assert_valid("Response", body)
    reasoning, message = body["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Weighing two options carefully."}]
    assert message["type"] == "message" and body["output_text"] == "Answer."
    assert body["reasoning"] == {"effort": None, "summary": "auto"}
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] == 4
    assert not leaked(bridge, json.dumps(body).encode())


async def test_responses_stream_reasoning_events(bridge: Bridge) -> None:
    async with bridge.http() as http:
        raw = (
            await http.post(
                "/v1/responses",
                json={
                    "model": "o3",
                    "input": f"resp-stream {THINK} <<say:Yes.>>",
                    "reasoning": {"effort": "high", "summary": "detailed"},
                    "stream": True,
                },
            )
        ).content
    events = validate_events(raw)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * 4,
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert deltas == "Weighing two options carefully."
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["summary"] == [{"type": "summary_text", "text": deltas}]
    completed = events[-1]["response"]
    assert_valid("Response", completed)
    assert [i["type"] for i in completed["output"]] == ["reasoning", "message"]
    assert not leaked(bridge, raw)


async def test_responses_tool_round_trip_with_thinking(bridge: Bridge) -> None:
    client = bridge.client()
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}  # type: ignore[index]
    ask = 'resp-tool <<think:Look it up.>> <<tool:mcp__c__get_weather:{"city":"Lima"}>>'
    first = await client.responses.create(model="o3", input=ask, tools=[tool], store=False)  # type: ignore[list-item]
    (call,) = [item for item in first.output if item.type == "function_call"]
    second = await client.responses.create(
        model="o3",
        tools=[tool],  # type: ignore[list-item]
        store=False,
        input=[
            {"role": "user", "content": ask},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "FOG"},
        ],
    )
    assert second.output_text == "after-tool: FOG"
