from __future__ import annotations

import json

import pytest

from bridge.chat.build import ChunkBuilder, CompletionBuilder
from bridge.json_boundary import chunk_json, to_json
from bridge.translate.chat_request import to_turn
from bridge.translate.choice import (
    ChoiceAssembler,
    Finished,
    Started,
    StructuredOutputError,
    TextOut,
    ToolCallArgs,
    ToolCallBegin,
)
from bridge.translate.stops import StopCutter
from bridge.translate.usage import finish_reason, usage_from_result
from bridge.validation import parse_chat_request
from supervisor.events import AssistantMessage, MessageStart, Result, TextDelta, ToolInputDelta, ToolUseStart
from supervisor.launch import ClientTool, LaunchProfile
from supervisor.turn import Line, TurnSettings


def result(stop: str = "end_turn", usage: dict | None = None, raw: dict | None = None) -> Result:  # type: ignore[type-arg]
    return Result(
        False, "success", stop, "completed", None, "x", usage or {"input_tokens": 5, "output_tokens": 2}, 1, raw or {}
    )


def run(assembler: ChoiceAssembler, events: list) -> list:  # type: ignore[type-arg]
    out = []
    for event in events:
        out += assembler.feed(event)
    return out


def test_turn_from_request() -> None:
    req = parse_chat_request(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "S1"},
                {"role": "user", "content": "u1"},
                {"role": "developer", "content": "S2"},
                {"role": "assistant", "content": "a1"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": [{"type": "text", "text": "u2"}]},
            ],
            "max_tokens": 50,
            "reasoning_effort": "high",
        }
    )
    turn = to_turn(req, "sonnet")
    assert turn.profile == LaunchProfile()
    assert turn.system_prompt == "S1"
    reminder = {"type": "text", "text": "<system-reminder>\nS2\n</system-reminder>"}
    assert turn.history == (Line("user", [{"type": "text", "text": "u1"}, reminder]), Line("assistant", "a1"))
    assert turn.message == [{"type": "text", "text": "u2"}]
    assert turn.model == "sonnet"
    assert turn.settings == TurnSettings(effort="high", max_output_tokens=50)


def test_tool_round_trip_becomes_tool_use_and_tool_result_blocks() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "W",
                "parameters": {"type": "object", "properties": {"city": {}}},
            },
        }
    ]
    req = parse_chat_request(
        {
            "model": "m",
            "tools": tools,
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "RAIN"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "SNOW"}]},
            ],
        }
    )
    turn = to_turn(req, "sonnet")
    assert turn.client_tools == (ClientTool("get_weather", "W", '{"properties":{"city":{}},"type":"object"}'),)
    assert turn.history[1] == Line(
        "assistant",
        [
            {"type": "tool_use", "id": "call_1", "name": "mcp__c__get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "mcp__c__get_weather", "input": {"city": "Oslo"}},
        ],
    )
    assert turn.message == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "RAIN"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "SNOW"}]},
    ]


def test_tool_choice_required_is_asked_for_in_words() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    req = parse_chat_request(
        {
            "model": "m",
            "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "messages": [{"role": "user", "content": "go"}],
        }
    )
    turn = to_turn(req, "sonnet")
    assert turn.message[0] == {"type": "text", "text": "go"}  # type: ignore[index]
    assert "`f`" in turn.message[1]["text"]  # type: ignore[index]


def test_tool_choice_none_without_tool_history_offers_no_tools() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    req = parse_chat_request(
        {"model": "m", "tools": tools, "tool_choice": "none", "messages": [{"role": "user", "content": "go"}]}
    )
    assert to_turn(req, "sonnet").client_tools == ()


def test_finish_reasons() -> None:
    assert finish_reason("end_turn") == "stop"
    assert finish_reason("max_tokens") == "length"
    assert finish_reason("tool_deferred") == "tool_calls"
    assert finish_reason("refusal") == "content_filter"
    assert finish_reason(None) == "stop"
    assert finish_reason("something_new") == "stop"


def test_usage_counts_cache_as_prompt() -> None:
    usage = usage_from_result(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 7,
            "output_tokens": 3,
            "output_tokens_details": {"thinking_tokens": 1},
        }
    )
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (117, 3, 120)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (10, 100, 7)
    assert usage.thinking_tokens == 1


def test_deltas_then_the_duplicate_whole_message_give_the_text_once() -> None:
    out = run(
        ChoiceAssembler(),
        [
            MessageStart("m1", "x"),
            TextDelta(None, "Hel"),
            TextDelta(None, "lo\n\n"),
            AssistantMessage("m1", "x", [{"type": "text", "text": "Hello\n\n"}]),
            result(),
        ],
    )
    assert [o.text for o in out if isinstance(o, TextOut)] == ["Hel", "lo\n\n"]
    assert isinstance(out[-1], Finished) and out[-1].reason == "stop"


def test_whole_message_without_deltas_is_emitted_once() -> None:
    out = run(ChoiceAssembler(), [AssistantMessage("m2", "x", [{"type": "text", "text": "fallback"}]), result()])
    assert out[0] == TextOut("fallback")


def test_synthetic_error_messages_are_never_output() -> None:
    out = run(ChoiceAssembler(), [AssistantMessage("e", "<synthetic>", [{"type": "text", "text": "API Error"}])])
    assert out == []


def test_streamed_client_tool_calls_are_renamed_and_indexed() -> None:
    out = run(
        ChoiceAssembler(),
        [
            MessageStart("m", "x"),
            ToolUseStart(0, "toolu_1", "mcp__c__get_weather"),
            ToolInputDelta(0, '{"ci'),
            ToolInputDelta(0, 'ty":"P"}'),
            ToolUseStart(1, "toolu_2", "Bash"),
            ToolInputDelta(1, '{"command":"rm"}'),
            ToolUseStart(2, "toolu_3", "mcp__c__get_time"),
            ToolInputDelta(2, "{}"),
            AssistantMessage(
                "m", "x", [{"type": "tool_use", "id": "toolu_1", "name": "mcp__c__get_weather", "input": {}}]
            ),
            result("tool_deferred"),
        ],
    )
    assert isinstance(out[0], Started), "message_start's usage rides with the first output"
    assert out[1:6] == [
        ToolCallBegin(0, "toolu_1", "get_weather"),
        ToolCallArgs(0, '{"ci'),
        ToolCallArgs(0, 'ty":"P"}'),
        ToolCallBegin(1, "toolu_3", "get_time"),
        ToolCallArgs(1, "{}"),
    ]
    assert isinstance(out[-1], Finished) and out[-1].reason == "tool_calls"


def test_parallel_tool_calls_false_keeps_the_first_call() -> None:
    out = run(
        ChoiceAssembler(parallel_tool_calls=False),
        [
            ToolUseStart(0, "a", "mcp__c__f"),
            ToolInputDelta(0, "{}"),
            ToolUseStart(1, "b", "mcp__c__g"),
            ToolInputDelta(1, "{}"),
            result("tool_deferred"),
        ],
    )
    assert [o for o in out if isinstance(o, ToolCallBegin)] == [ToolCallBegin(0, "a", "f")]


def test_structured_output_json_is_the_content_and_is_validated() -> None:
    schema = json.dumps({"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]})
    out = run(
        ChoiceAssembler(json_schema=schema),
        [
            TextDelta(None, "Sure, here it is: "),
            ToolUseStart(0, "t", "StructuredOutput"),
            ToolInputDelta(0, '{"age"'),
            ToolInputDelta(0, ": 3}"),
            result("tool_use"),
        ],
    )
    assert [o.text for o in out if isinstance(o, TextOut)] == ['{"age"', ": 3}"]
    assert out[-1].reason == "stop"  # type: ignore[union-attr]
    with pytest.raises(StructuredOutputError, match="does not match"):
        run(
            ChoiceAssembler(json_schema=schema),
            [ToolUseStart(0, "t", "StructuredOutput"), ToolInputDelta(0, '{"age": "old"}'), result("tool_use")],
        )
    with pytest.raises(StructuredOutputError, match="did not produce"):
        run(ChoiceAssembler(json_schema=schema), [TextDelta(None, "no json"), result()])
    whole = run(ChoiceAssembler(json_schema=schema), [result("tool_use", raw={"structured_output": {"age": 4}})])
    assert whole[0] == TextOut('{"age": 4}')


def test_structured_output_with_tools_ends_on_a_client_tool_call() -> None:
    """With both response_format and tools, a turn is either the JSON or client tool calls."""
    schema = json.dumps({"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]})
    out = run(
        ChoiceAssembler(json_schema=schema),
        [
            TextDelta(None, "Let me look that up."),
            ToolUseStart(0, "t1", "mcp__c__lookup"),
            ToolInputDelta(0, '{"q": "age"}'),
            result("tool_use"),
        ],
    )
    assert out[0] == ToolCallBegin(0, "t1", "lookup")
    assert [o.text for o in out if isinstance(o, ToolCallArgs)] == ['{"q": "age"}']
    assert not [o for o in out if isinstance(o, TextOut)], "the JSON is the content; prose is not"
    assert out[-1].reason == "tool_calls"  # type: ignore[union-attr]


def test_stop_sequences_split_across_deltas() -> None:
    cutter = StopCutter(("END", "\n\n"))
    assert cutter.feed("hello E") == ("hello ", False)
    assert cutter.feed("N") == ("", False)
    assert cutter.feed("D and more") == ("", True)
    cutter = StopCutter(("END",))
    assert cutter.feed("ENx") == ("ENx", False)
    assert cutter.feed("tail E") == ("tail ", False)
    assert cutter.flush() == "E"
    assert StopCutter(("b", "a")).feed("xxab") == ("xx", True), "the earliest match wins"


def test_stop_hit_finishes_with_an_estimated_usage() -> None:
    assembler = ChoiceAssembler(stops=("STOP",))
    out = run(
        assembler,
        [
            MessageStart("m", "x", {"input_tokens": 40, "cache_read_input_tokens": 2}),
            TextDelta(None, "one two ST"),
            TextDelta(None, "OP three"),
        ],
    )
    assert [o.text for o in out if isinstance(o, TextOut)] == ["one two "]
    finished = out[-1]
    assert isinstance(finished, Finished) and finished.estimated and finished.reason == "stop"
    assert finished.usage.prompt_tokens == 42 and finished.usage.completion_tokens == 3  # "one", " two", " "
    assert assembler.done and assembler.feed(TextDelta(None, "more")) == []


def test_completion_body() -> None:
    builder = CompletionBuilder(model="gpt-4o")
    builder.feed(0, run(ChoiceAssembler(), [TextDelta(None, "Hi"), result()]))
    body = to_json(builder.build())
    assert body["choices"][0]["message"] == {"content": "Hi", "refusal": None, "role": "assistant"}
    assert body["choices"][0]["logprobs"] is None
    assert body["usage"]["total_tokens"] == 7
    assert body["id"].startswith("chatcmpl-")


def test_completion_with_tool_calls_and_legacy_function_call() -> None:
    outputs = run(
        ChoiceAssembler(),
        [ToolUseStart(0, "toolu_9", "mcp__c__f"), ToolInputDelta(0, '{"a":1}'), result("tool_deferred")],
    )
    builder = CompletionBuilder(model="m")
    builder.feed(0, outputs)
    choice = to_json(builder.build())["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    legacy = CompletionBuilder(model="m", legacy_functions=True)
    legacy.feed(0, outputs)
    choice = to_json(legacy.build())["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {"name": "f", "arguments": '{"a":1}'}
    assert "tool_calls" not in choice["message"]


def test_chunks_role_first_then_content_then_finish_then_usage() -> None:
    builder = ChunkBuilder(model="m", include_usage=True)
    opening = chunk_json(builder.opening(), include_usage=True)
    assert opening["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert opening["usage"] is None
    (content,) = builder.feed(0, [TextOut(" a ")])
    assert chunk_json(content, include_usage=True)["choices"][0]["delta"] == {"content": " a "}
    (finish,) = builder.feed(0, run(ChoiceAssembler(), [result("max_tokens")]))
    assert chunk_json(finish, include_usage=True)["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "length",
        "logprobs": None,
    }
    last = chunk_json(builder.usage_chunk(), include_usage=True)
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 2


def test_tool_call_chunks() -> None:
    builder = ChunkBuilder(model="m")
    begin, args = builder.feed(1, [ToolCallBegin(0, "t1", "f"), ToolCallArgs(0, "{}")])
    assert chunk_json(begin, include_usage=False)["choices"][0]["delta"] == {
        "tool_calls": [{"index": 0, "id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}]
    }
    assert chunk_json(args, include_usage=False)["choices"][0] == {
        "index": 1,
        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
        "finish_reason": None,
        "logprobs": None,
    }
    assert builder.usage_chunk() is None


def test_structured_output_nested_past_any_sane_depth_is_refused_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(StructuredOutputError, match="nested deeper"):
        run(
            ChoiceAssembler(json_schema=json.dumps({"type": "object"})),
            [ToolUseStart(0, "t", "StructuredOutput"), ToolInputDelta(0, deep), result("tool_use")],
        )
