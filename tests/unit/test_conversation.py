"""Every message sequence OpenAI accepts -> system prompt, replayed lines and the new user turn."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.translate.chat_request import to_turn
from bridge.translate.conversation import CONTINUE, Conversation, split
from bridge.validation import parse_chat_request
from supervisor.launch import LaunchProfile
from supervisor.turn import Line

CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
USE = {"type": "tool_use", "id": "call_1", "name": "mcp__c__f", "input": {"a": 1}}


def text(t: str) -> dict[str, str]:
    return {"type": "text", "text": t}


def note(t: str) -> dict[str, str]:
    return text(f"<system-reminder>\n{t}\n</system-reminder>")


def conv(*messages: dict[str, Any], **body: Any) -> Conversation:
    return split(parse_chat_request({"model": "m", "messages": list(messages), **body}).messages)


def test_leading_instructions_are_the_system_prompt() -> None:
    got = conv(
        {"role": "system", "content": "S"}, {"role": "developer", "content": "D"}, {"role": "user", "content": "U"}
    )
    assert got == Conversation("S\n\nD", (), "U")


def test_instructions_only_are_the_user_turn() -> None:
    assert conv({"role": "system", "content": "S-only"}) == Conversation("", (), [text("S-only")], exact=False)
    got = conv({"role": "developer", "content": [text("D1"), text("D2")], "name": "n"})
    assert got == Conversation("", (), [text("D1"), text("D2")], exact=False)


def test_instructions_after_the_last_user_message_join_its_turn() -> None:
    got = conv(
        {"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "developer", "content": "D"}
    )
    assert got == Conversation("S", (), [text("U"), note("D")], exact=False)


def test_instructions_between_turns_join_the_next_user_turn() -> None:
    got = conv(
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"},
        {"role": "system", "content": "D"},
        {"role": "user", "content": "U2"},
    )
    assert got == Conversation("", (Line("user", "U1"), Line("assistant", "A1")), [note("D"), text("U2")], exact=False)


def test_instructions_after_an_answer_are_the_new_turn() -> None:
    got = conv(
        {"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"}, {"role": "system", "content": "D"}
    )
    assert got.history == (Line("user", "U1"), Line("assistant", "A1"))
    assert got.message == [note("D")]


def test_instructions_after_tool_results_follow_them() -> None:
    got = conv(
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "R"},
        {"role": "developer", "content": "D"},
        tools=TOOLS,
    )
    assert got.message == [{"type": "tool_result", "tool_use_id": "call_1", "content": "R"}, note("D")]


def test_a_final_assistant_message_is_continued() -> None:
    got = conv({"role": "user", "content": "U"}, {"role": "assistant", "content": "The answer is"})
    assert got == Conversation("", (Line("user", "U"), Line("assistant", "The answer is")), [note(CONTINUE)], False)


def test_an_empty_final_assistant_message_is_no_prefill() -> None:
    got = conv({"role": "user", "content": "U"}, {"role": "assistant", "content": ""})
    assert got == Conversation("", (), "U")


def test_a_conversation_starting_with_the_assistant_gets_an_empty_user_line_first() -> None:
    got = conv(
        {"role": "system", "content": "S"}, {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "U"}
    )
    assert got == Conversation("S", (Line("user", ""), Line("assistant", "Hi!")), "U")


def test_empty_strings() -> None:
    assert conv({"role": "user", "content": ""}) == Conversation("", (), "")
    assert conv({"role": "system", "content": ""}, {"role": "user", "content": "U"}).system_prompt == ""
    got = conv({"role": "user", "content": "U1"}, {"role": "user", "content": ""}, {"role": "user", "content": "U2"})
    assert got.message == [text("U1"), text("U2")]


def test_consecutive_user_messages_form_one_turn() -> None:
    got = conv({"role": "user", "content": "U1"}, {"role": "user", "content": [text("U2")]})
    assert got == Conversation("", (), [text("U1"), text("U2")])


def test_assistant_parts_refusals_and_echoed_fields() -> None:
    got = conv(
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": [text("A"), {"type": "refusal", "refusal": "No."}], "name": "bot"},
        {"role": "user", "content": "U2"},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {
            "role": "assistant",
            "content": "A3",
            "refusal": None,
            "audio": None,
            "annotations": [],
            "function_call": None,
            "tool_calls": [],
        },
        {"role": "user", "content": "U3"},
    )
    assert got.history == (
        Line("user", "U1"),
        Line("assistant", [text("A"), text("No.")]),
        Line("user", "U2"),
        Line("assistant", "I can't help with that."),
        Line("assistant", "A3"),
    )


def test_tool_results_as_text_parts_and_content_beside_tool_calls() -> None:
    got = conv(
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": [text("T1"), text("T2")]},
        tools=TOOLS,
    )
    assert got.history == (Line("user", "U"), Line("assistant", [text("Let me look."), USE]))
    assert got.message == [{"type": "tool_result", "tool_use_id": "call_1", "content": [text("T1"), text("T2")]}]


def test_a_null_function_result() -> None:
    got = conv(
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": None},
        functions=[TOOLS[0]["function"]],
    )
    assert got.message == [{"type": "tool_result", "tool_use_id": "call_legacy_1", "content": ""}]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "U"}, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
        [
            {"role": "user", "content": "U"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "user", "content": "U2"},
            {"role": "tool", "tool_call_id": "call_1", "content": "late"},
        ],
    ],
)
def test_tool_calls_must_be_answered_right_after(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_chat_request({"model": "m", "messages": messages, "tools": TOOLS})
    assert info.value.param == "messages[1].tool_calls"
    assert "call_1" in str(info.value)


def test_the_turn_carries_the_split() -> None:
    req = parse_chat_request(
        {"model": "m", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]}
    )
    turn = to_turn(req, "sonnet")
    assert (turn.profile, turn.system_prompt, turn.history, turn.message) == (LaunchProfile(), "S", (), "U")
