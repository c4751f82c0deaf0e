"""The line a held conversation ends with, recorded once from what a choice handed out. Pure."""

from __future__ import annotations

from bridge.translate.choice import Finished, TextOut, ToolCallArgs, ToolCallBegin
from bridge.translate.usage import TurnUsage
from bridge.turns.choices import ChoiceRecord
from supervisor.launch import MCP_PREFIX
from supervisor.turn import Line

DONE = Finished("stop", TurnUsage())


def record(*outputs: object) -> ChoiceRecord:
    made = ChoiceRecord()
    for out in outputs:
        made.see(out)  # type: ignore[arg-type]
    return made


def test_a_text_answer_is_the_text_line() -> None:
    assert record(TextOut("Hel"), TextOut("lo"), DONE).answer_line() == Line("assistant", "Hello")


def test_tool_calls_follow_the_text_as_the_client_echo_translates_them() -> None:
    line = record(
        TextOut("Looking."),
        ToolCallBegin(0, "toolu_1", "get_weather"),
        ToolCallArgs(0, '{"city":'),
        ToolCallArgs(0, '"Paris"}'),
        ToolCallBegin(1, "toolu_2", "get_time"),
        Finished("tool_calls", TurnUsage()),
    ).answer_line()
    assert line == Line(
        "assistant",
        [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_1", "name": MCP_PREFIX + "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": MCP_PREFIX + "get_time", "input": {}},
        ],
    )


def test_no_line_for_an_unfinished_empty_or_unechoable_answer() -> None:
    assert record(TextOut("cut")).answer_line() is None
    assert record(DONE).answer_line() is None
    assert record(ToolCallBegin(0, "toolu_1", "f"), ToolCallArgs(0, "[1]"), DONE).answer_line() is None
    assert record(ToolCallBegin(0, "toolu_1", "f"), ToolCallArgs(0, "{nope"), DONE).answer_line() is None


def test_the_calls_kept_thinking_is_filed_under() -> None:
    made = record(ToolCallBegin(0, "toolu_1", "f"), ToolCallArgs(0, "{}"), ToolCallBegin(1, "toolu_2", "g"))
    assert [c.id for c in made.of(("toolu_2",))] == ["toolu_2"]
