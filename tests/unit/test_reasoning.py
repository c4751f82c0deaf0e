"""Thinking -> reasoning, and the signed blocks kept for the tool round trip. Pure, no CLI."""

from __future__ import annotations

from typing import Any

from bridge.chat.build import ChunkBuilder, CompletionBuilder
from bridge.json_boundary import chunk_json, to_json
from bridge.responses.build import ResponseBuilder
from bridge.thinking_cache import Call, ThinkingCache, canonical
from bridge.translate.chat_request import to_turn
from bridge.translate.choice import ChoiceAssembler, TextOut
from bridge.translate.thinking import KeptThinking, ReasoningOut, SignedThinking
from bridge.validation import parse_chat_request
from supervisor.conversation import chain
from supervisor.events import (
    AssistantMessage,
    MessageStart,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStart,
)
from supervisor.turn import Line
from tests.openapi import assert_valid

MODEL = "claude-sonnet-5-5"
SIGNED = {"type": "thinking", "thinking": "Plan it.", "signature": "c2lnbmVk"}
REDACTED = {"type": "redacted_thinking", "data": "b3BhcXVl"}


def result(usage: dict[str, Any] | None = None) -> Result:
    usage = usage or {"input_tokens": 5, "output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}}
    return Result(False, "success", "end_turn", "completed", None, "x", usage, 1, {})


def run(assembler: ChoiceAssembler, events: list[Any]) -> list[Any]:
    out = []
    for event in events:
        out += assembler.feed(event)
    return out


def streamed_turn() -> list[Any]:
    """What the CLI emits for [thinking, redacted_thinking, text] (measured: one assistant event per block)."""
    return [
        MessageStart("msg_1", MODEL),
        ThinkingDelta(0, "Plan "),
        ThinkingDelta(0, "it."),
        AssistantMessage("msg_1", MODEL, [SIGNED]),
        AssistantMessage("msg_1", MODEL, [REDACTED]),
        TextDelta(None, "Done."),
        AssistantMessage("msg_1", MODEL, [{"type": "text", "text": "Done."}]),
        result(),
    ]


def test_thinking_is_reasoning_only_when_asked() -> None:
    shown = run(ChoiceAssembler(show_reasoning=True), streamed_turn())
    assert [o for o in shown if isinstance(o, ReasoningOut)] == [ReasoningOut("Plan ", 0), ReasoningOut("it.", 0)]
    assert [o.text for o in shown if isinstance(o, TextOut)] == ["Done."]
    hidden = run(ChoiceAssembler(), streamed_turn())
    assert not [o for o in hidden if isinstance(o, ReasoningOut)]


def test_signatures_and_redacted_data_never_become_text() -> None:
    out = run(ChoiceAssembler(show_reasoning=True), streamed_turn())
    rendered = repr([o for o in out if not isinstance(o, KeptThinking)])
    assert "c2lnbmVk" not in rendered and "b3BhcXVl" not in rendered


def test_thinking_of_a_message_that_did_not_stream_is_shown_once() -> None:
    """The CLI's non-streaming fallback: whole messages, no deltas."""
    events = [AssistantMessage("msg_9", MODEL, [SIGNED]), AssistantMessage("msg_9", MODEL, [SIGNED]), result()]
    out = run(ChoiceAssembler(show_reasoning=True), events)
    assert [o for o in out if isinstance(o, ReasoningOut)] == [ReasoningOut("Plan it.", 0)]


def test_tool_calls_keep_the_signed_blocks_of_their_message() -> None:
    events = [
        MessageStart("msg_1", MODEL),
        AssistantMessage("msg_1", MODEL, [SIGNED]),
        ToolUseStart(1, "toolu_a", "mcp__c__get_weather"),
        ToolInputDelta(1, "{}"),
        ToolUseStart(2, "toolu_b", "mcp__c__get_time"),
        AssistantMessage("msg_1", MODEL, [{"type": "tool_use", "id": "toolu_a", "name": "mcp__c__get_weather"}]),
        result(),
    ]
    (kept,) = [o for o in run(ChoiceAssembler(), events) if isinstance(o, KeptThinking)]
    assert kept == KeptThinking(SignedThinking(MODEL, (SIGNED,)), ("toolu_a", "toolu_b"))


def test_no_thinking_no_kept_blocks() -> None:
    events = [MessageStart("m", MODEL), ToolUseStart(0, "toolu_x", "mcp__c__f"), result()]
    assert not [o for o in run(ChoiceAssembler(), events) if isinstance(o, KeptThinking)]


def test_replayed_tool_calls_start_with_their_kept_thinking() -> None:
    request = parse_chat_request(
        {
            "model": "o3",
            "reasoning_effort": "high",
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {"id": "toolu_a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_a", "content": "SUN"},
            ],
        }
    )
    kept = {"toolu_a": SignedThinking(MODEL, (SIGNED,))}
    turn = to_turn(request, "opus", thinking=kept, show_reasoning=True)
    assistant = turn.history[1]
    assert assistant.thinking == (SIGNED,) and assistant.model == MODEL
    assert assistant.content[0] == {"type": "text", "text": "Checking."}  # type: ignore[index]
    assert turn.settings.thinking_display == "summarized"
    plain = to_turn(request, "opus")
    assert plain.history[1] == Line("assistant", assistant.content)
    assert chain("s", turn.history) == chain("s", plain.history), "a held conversation's keys ignore the blocks"


def _calls(*ids: str) -> list[Call]:
    return [Call.of(i, "get_weather", '{"city": "Paris"}') for i in ids]


def test_cache_is_bounded_by_size_oldest_out() -> None:
    cache = ThinkingCache(max_bytes=800)
    big = SignedThinking(MODEL, ({"type": "thinking", "thinking": "x" * 200, "signature": "s"},))
    cache.keep("k", _calls("a"), big)
    cache.keep("k", _calls("b"), big)
    assert set(cache.lookup("k", _calls("a", "b"))) == {"a", "b"}
    cache.lookup("k", _calls("a"))  # used: now the newest
    cache.keep("k", _calls("c"), big)
    assert set(cache.lookup("k", _calls("a", "b", "c"))) == {"a", "c"}
    cache.keep("k", _calls("huge"), SignedThinking(MODEL, ({"thinking": "y" * 5000},)))
    assert cache.lookup("k", _calls("huge")) == {} and len(cache) == 2


def test_cache_gives_thinking_back_only_to_its_owner_for_the_same_call() -> None:
    cache = ThinkingCache()
    kept = SignedThinking(MODEL, (SIGNED,))
    cache.keep("key_a", [Call.of("call_1", "get_weather", '{"city": "Paris", "unit": "c"}')], kept)
    assert cache.lookup("key_b", [Call.of("call_1", "get_weather", '{"city": "Paris", "unit": "c"}')]) == {}
    assert cache.lookup("key_a", [Call.of("call_1", "get_weather", '{"city": "Rome", "unit": "c"}')]) == {}
    assert cache.lookup("key_a", [Call.of("call_1", "get_time", '{"city": "Paris", "unit": "c"}')]) == {}
    # Key order and spacing are not the call; a parsed object is the same call as its text.
    assert cache.lookup("key_a", [Call.of("call_1", "get_weather", {"unit": "c", "city": "Paris"})]) == {"call_1": kept}
    assert cache.lookup("key_a", [Call.of("call_1", "get_weather", '{"unit":"c","city":"Paris"}')]) == {"call_1": kept}


def test_canonical_arguments() -> None:
    assert canonical('{"b": 1, "a": [1, 2]}') == canonical({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'
    assert canonical("not json") == "not json"
    assert canonical("") == canonical(" ") == canonical({}) == "{}", "a call without arguments, streamed or echoed"
    assert canonical('{"a": 1}') != canonical('{"a": 1.0}')


def test_chat_bodies_carry_reasoning_content() -> None:
    outputs = run(ChoiceAssembler(show_reasoning=True), streamed_turn())
    record = CompletionBuilder(model="o3")
    record.feed(0, outputs)
    body = to_json(record.build())
    assert body["choices"][0]["message"]["reasoning_content"] == "Plan it."
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4
    assert_valid("CreateChatCompletionResponse", body)
    chunks = [chunk_json(c, include_usage=False) for c in ChunkBuilder(model="o3").feed(0, outputs)]
    assert [c["choices"][0]["delta"].get("reasoning_content") for c in chunks[:2]] == ["Plan ", "it."]
    for chunk in chunks:
        assert_valid("CreateChatCompletionStreamResponse", chunk)


def test_two_thinking_blocks_are_two_summary_parts() -> None:
    outputs = [ReasoningOut("First.", 0), ReasoningOut("Second.", 1), TextOut("Answer.")]
    builder = ResponseBuilder(id="resp_1", echo={"model": "o3"})
    events = builder.start() + builder.feed(outputs)
    kinds = [e["type"] for e in events]
    assert kinds[2:12] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert [e["summary_index"] for e in events if "summary_index" in e] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert builder.output[0]["summary"] == [
        {"type": "summary_text", "text": "First."},
        {"type": "summary_text", "text": "Second."},
    ]
    for event in events[2:]:  # (the response object of created/in_progress needs a full echo)
        assert_valid("ResponseStreamEvent", event)
    record = CompletionBuilder(model="o3")
    record.feed(0, [*outputs])
    assert record._choices[0].reasoning.text == "First.\n\nSecond."
