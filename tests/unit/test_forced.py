"""tool_choice named/required: the schema, the translated turn, and the assembled call. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bridge.translate.chat_request import to_turn
from bridge.translate.choice import ChoiceAssembler, Finished, ForcedCallError, TextOut, ToolCallArgs, ToolCallBegin
from bridge.translate.forced import REASKS, forced_call
from bridge.validation import parse_chat_request
from supervisor.events import ReAsked, Result, TextDelta, ToolInputDelta, ToolUseStart
from tests.fake_upstream import made_to_call

POINT = {
    "type": "object",
    "properties": {"at": {"$ref": "#/$defs/Point"}},
    "required": ["at"],
    "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
}
TOOLS = [
    {"type": "function", "function": {"name": "move", "description": "Move.", "parameters": POINT}},
    {"type": "function", "function": {"name": "stop", "parameters": {"type": "object", "properties": {}}}},
]


def request(tool_choice: Any, tools: list[dict[str, Any]] = TOOLS, **extra: Any) -> Any:
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": tools, "tool_choice": tool_choice}
    return parse_chat_request({**body, **extra})


def result(structured: Any = None, stop: str = "end_turn", tokens: int = 3) -> Result:
    raw = {} if structured is None else {"structured_output": structured}
    return Result(False, "success", stop, "completed", None, "", {"input_tokens": 10, "output_tokens": tokens}, 1, raw)


def test_a_named_function_is_the_only_tool_and_its_parameters_the_schema() -> None:
    turn = to_turn(request({"type": "function", "function": {"name": "move"}}), "sonnet")
    assert [t.name for t in turn.client_tools] == ["move"]
    assert json.loads(turn.profile.json_schema or "") == POINT
    assert turn.reask is not None and turn.reask.times == REASKS
    assert "`move`" in json.dumps(turn.reask.message)


def test_required_offers_every_function_and_wraps_a_one_of() -> None:
    turn = to_turn(request("required"), "sonnet")
    assert [t.name for t in turn.client_tools] == ["move", "stop"]
    schema = json.loads(turn.profile.json_schema or "")
    assert "oneOf" not in schema, "Anthropic refuses oneOf at the root of an input schema"
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"tool_call": {"name": "move", "arguments": {"at": {"x": 1}}}})
    assert not validator.is_valid({"tool_call": {"name": "move", "arguments": {"at": {"x": "far"}}}}), "refs rebased"
    assert not validator.is_valid({"tool_call": {"name": "jump", "arguments": {}}})
    assert validator.is_valid({"tool_call": {"name": "stop", "arguments": {}}})
    assert "`move`, `stop`" in json.dumps(turn.reask.message if turn.reask else "")


def test_required_with_one_function_is_that_function() -> None:
    forced = forced_call(request("required", tools=TOOLS[:1]))
    assert forced is not None and not forced.wrapped and json.loads(forced.schema) == POINT


def test_auto_and_none_force_nothing() -> None:
    assert to_turn(request("auto"), "sonnet").reask is None
    assert forced_call(request("none")) is None


def assembler(choice: Any) -> ChoiceAssembler:
    req = request(choice)
    spec = to_turn(req, "sonnet")
    return ChoiceAssembler(
        json_schema=spec.profile.json_schema,
        forced=forced_call(req),
        tool_names=frozenset(t.name for t in spec.client_tools),
    )


def feed(asm: ChoiceAssembler, events: list[Any]) -> list[Any]:
    out = []
    for event in events:
        out += asm.feed(event)
    return out


def test_the_structured_output_becomes_the_call_and_text_is_never_sent() -> None:
    asm = assembler("required")
    out = feed(
        asm,
        [
            TextDelta("m1", "Let me think."),
            ReAsked(result(tokens=5)),
            ToolUseStart(0, "toolu_so", "StructuredOutput"),
            ToolInputDelta(0, '{"tool_call": {"name": "move", "arguments": {"at": {"x": 2}}}}'),
            result({"tool_call": {"name": "move", "arguments": {"at": {"x": 2}}}}, stop="tool_use"),
        ],
    )
    assert not [o for o in out if isinstance(o, TextOut)]
    begin, args, finished = out
    assert isinstance(begin, ToolCallBegin) and begin.name == "move" and begin.id.startswith("call_")
    assert isinstance(args, ToolCallArgs) and json.loads(args.text) == {"at": {"x": 2}}
    assert isinstance(finished, Finished) and finished.reason == "tool_calls"
    assert finished.usage.completion_tokens == 5 + 3 and finished.usage.prompt_tokens == 20, "both asks count"


def test_a_direct_call_counts_and_a_call_to_another_function_never_does() -> None:
    asm = assembler({"type": "function", "function": {"name": "move"}})
    out = feed(
        asm,
        [
            ToolUseStart(0, "toolu_1", "mcp__c__stop"),  # not offered: the CLI refuses it
            ToolInputDelta(0, "{}"),
            ToolUseStart(1, "toolu_2", "mcp__c__move"),
            ToolInputDelta(1, '{"at": {"x": 1}}'),
            result(stop="tool_deferred"),
        ],
    )
    assert [o.name for o in out if isinstance(o, ToolCallBegin)] == ["move"]
    assert isinstance(out[-1], Finished) and out[-1].reason == "tool_calls"


def test_no_call_after_the_last_ask_is_an_error() -> None:
    asm = assembler({"type": "function", "function": {"name": "move"}})
    with pytest.raises(ForcedCallError):
        feed(asm, [ReAsked(result()), ReAsked(result()), result()])


def test_a_structured_output_that_does_not_match_is_an_error() -> None:
    asm = assembler({"type": "function", "function": {"name": "move"}})
    with pytest.raises(ForcedCallError):
        feed(asm, [result({"at": {"x": "far"}}, stop="tool_use")])


def test_unoffered_functions_are_never_reported_without_tool_choice() -> None:
    asm = ChoiceAssembler(tool_names=frozenset({"move"}))
    out = feed(asm, [ToolUseStart(0, "toolu_1", "mcp__c__jump"), ToolInputDelta(0, "{}"), result()])
    assert out == [Finished("stop", out[-1].usage)]


def test_the_fake_model_calls_only_when_made_to() -> None:
    """The fake upstream's `<<textunlessforced>>` model, which the integration tests rely on."""
    tools = [{"name": "mcp__c__move", "input_schema": POINT}, {"name": "web_search", "type": "web_search_20250305"}]
    user = {"role": "user", "content": "go <<textunlessforced:1>>"}
    answer = {"role": "assistant", "content": [{"type": "text", "text": "words"}]}
    nudge = {"role": "user", "content": [{"type": "text", "text": "Call the `move` tool now."}]}
    assert made_to_call({"tools": tools}, [user], "go <<textunlessforced:1>>") is None
    assert made_to_call({"tools": tools}, [user, answer, nudge], "Call the `move` tool now.") is None, "ignores one"
    again = [user, answer, nudge, answer, nudge]
    assert made_to_call({"tools": tools}, again, "Call the `move` tool now.") == ("mcp__c__move", {"at": {"x": 0}})
    forced = {"tools": tools, "tool_choice": {"type": "tool", "name": "mcp__c__move"}}
    assert made_to_call(forced, [{"role": "user", "content": "plain"}], "plain") == ("mcp__c__move", {"at": {"x": 0}})
    assert made_to_call({"tools": tools, "tool_choice": {"type": "any"}}, [user], "") == (
        "mcp__c__move",
        {"at": {"x": 0}},
    )
    server_tool = {"tools": tools, "tool_choice": {"type": "tool", "name": "web_search"}}
    assert made_to_call(server_tool, [user], "") is None, "server tools are not the fake's to call"
