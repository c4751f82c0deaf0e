"""Every message sequence OpenAI accepts is answered: what reaches the upstream for each shape."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from bridge.translate.conversation import CONTINUE
from tests.conftest import Bridge
from tests.fake_upstream import DEFAULT_TEXT, Recorded

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CALL = {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
USE = {"type": "tool_use", "id": "call_w1", "name": "mcp__c__get_weather", "input": {"city": "Oslo"}}


def text(t: str) -> dict[str, str]:
    return {"type": "text", "text": t}


def note(t: str) -> dict[str, str]:
    return text(f"<system-reminder>\n{t}\n</system-reminder>")


def _uncached(content: Any) -> Any:
    """The CLI marks its newest user message as a prompt-cache breakpoint (a string becomes one
    text block with `cache_control`): that is not content."""
    if not isinstance(content, list) or not any("cache_control" in b for b in content):
        return content
    blocks = [{k: v for k, v in b.items() if k != "cache_control"} for b in content]
    return blocks[0]["text"] if len(blocks) == 1 and blocks[0].get("type") == "text" else blocks


def convo(req: Recorded) -> list[tuple[str, Any]]:
    """The upstream conversation without the CLI's own mid-conversation system messages."""
    return [(m["role"], _uncached(m["content"])) for m in req.messages if m["role"] != "system"]


def prompt(req: Recorded) -> str | None:
    """The system prompt block (after the CLI's two fixed blocks), if any."""
    system = req.body.get("system", [])
    return system[2]["text"] if len(system) > 2 else None


async def ask(bridge: Bridge, messages: list[dict[str, Any]], **extra: Any) -> tuple[Any, Recorded]:
    client = bridge.client()
    before = len(bridge.fake.messages_requests())
    resp = await client.chat.completions.create(model="gpt-4o", messages=messages, **extra)  # type: ignore[arg-type]
    (req,) = bridge.fake.messages_requests()[before:]
    return resp, req


async def test_instructions_only_are_the_question(bridge: Bridge) -> None:
    resp, req = await ask(bridge, [{"role": "developer", "content": "Say hi <<say:hi there>>", "name": "name"}])
    assert resp.choices[0].message.content == "hi there"
    assert convo(req) == [("user", [text("Say hi <<say:hi there>>")])]
    assert prompt(req) is None, "the instructions are not also the system prompt"
    stream = await bridge.client().chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "system", "content": "stream <<say:ok>>"}]
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "ok"


async def test_instructions_after_the_last_user_message_join_its_turn(bridge: Bridge) -> None:
    resp, req = await ask(
        bridge,
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Q <<say:A>>"},
            {"role": "developer", "content": "Answer in French."},
        ],
    )
    assert resp.choices[0].message.content == "A"
    assert prompt(req) == "You are terse."
    assert convo(req) == [("user", [text("Q <<say:A>>"), note("Answer in French.")])]


async def test_instructions_between_turns_keep_their_place(bridge: Bridge) -> None:
    _, req = await ask(
        bridge,
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "U1"},
            {"role": "assistant", "content": "A1"},
            {"role": "developer", "content": "D"},
            {"role": "user", "content": "U2 <<say:ok>>"},
        ],
    )
    assert prompt(req) == "S"
    assert convo(req) == [("user", "U1"), ("assistant", [text("A1")]), ("user", [note("D"), text("U2 <<say:ok>>")])]


async def test_a_final_assistant_message_is_continued(bridge: Bridge) -> None:
    resp, req = await ask(bridge, [{"role": "user", "content": "Count"}, {"role": "assistant", "content": "One, two,"}])
    assert resp.choices[0].message.content == DEFAULT_TEXT, "only the continuation comes back"
    assert resp.choices[0].finish_reason == "stop"
    assert convo(req) == [("user", "Count"), ("assistant", [text("One, two,")]), ("user", [note(CONTINUE)])]


async def test_a_conversation_may_start_with_the_assistant(bridge: Bridge) -> None:
    _, req = await ask(
        bridge,
        [
            {"role": "system", "content": "S"},
            {"role": "assistant", "content": "Hi! How can I help?"},
            {"role": "user", "content": "U <<say:ok>>"},
        ],
    )
    assert convo(req) == [
        ("user", "(no content)"),
        ("assistant", [text("Hi! How can I help?")]),
        ("user", "U <<say:ok>>"),
    ]


async def test_empty_strings(bridge: Bridge) -> None:
    resp, req = await ask(bridge, [{"role": "system", "content": ""}, {"role": "user", "content": ""}])
    assert resp.choices[0].message.content == DEFAULT_TEXT
    assert convo(req) == [("user", "(no content)")], "the CLI's own placeholder for an empty message"
    assert prompt(req) is None
    _, req = await ask(
        bridge,
        [
            {"role": "user", "content": "U1"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "U2 <<say:ok>>"},
        ],
    )
    assert convo(req) == [("user", [text("U1"), text("U2 <<say:ok>>")])], "an empty answer is no turn"


async def test_content_parts_everywhere(bridge: Bridge) -> None:
    _, req = await ask(
        bridge,
        [
            {"role": "system", "content": [text("S1 ")]},
            {"role": "developer", "content": [text("D1")]},
            {"role": "user", "content": [text("U1")]},
            {"role": "assistant", "content": [text("A1")]},
            {"role": "user", "content": "U2"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I won't."}]},
            {"role": "user", "content": "U3"},
            {"role": "assistant", "content": [text("Let me look.")], "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_w1", "content": [text("T1"), text("T2")]},
        ],
        tools=[WEATHER],
    )
    assert prompt(req) == "S1 \n\nD1"
    assert convo(req) == [
        ("user", [text("U1")]),
        ("assistant", [text("A1")]),
        ("user", "U2"),
        ("assistant", [text("I won't.")]),
        ("user", "U3"),
        ("assistant", [text("Let me look."), USE]),
        ("user", [{"type": "tool_result", "tool_use_id": "call_w1", "content": [text("T1"), text("T2")]}]),
    ]


async def test_an_answer_echoed_back_as_the_client_received_it(bridge: Bridge) -> None:
    """openai-python's own message object (refusal, annotations, audio, function_call, tool_calls)."""
    first, _ = await ask(bridge, [{"role": "user", "content": "hi <<say:Hello.>>"}])
    echoed = first.choices[0].message
    echoed_dict = {**echoed.model_dump(), "refusal": None, "audio": None, "annotations": [], "tool_calls": []}
    for message in (echoed, echoed_dict):
        _, req = await ask(bridge, [{"role": "user", "content": "hi"}, message, {"role": "user", "content": "more"}])
        assert convo(req) == [("user", "hi"), ("assistant", [text("Hello.")]), ("user", "more")]


async def test_names_are_accepted_and_a_refusal_is_the_assistant_text(bridge: Bridge) -> None:
    _, req = await ask(
        bridge,
        [
            {"role": "system", "content": "S", "name": "policy"},
            {"role": "user", "content": "U1", "name": "alice"},
            {"role": "assistant", "content": None, "refusal": "I can't help with that.", "name": "bot"},
            {"role": "user", "content": "U2", "name": "bob"},
        ],
    )
    assert convo(req) == [("user", "U1"), ("assistant", [text("I can't help with that.")]), ("user", "U2")]


async def test_a_null_function_result(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o",
                "functions": [WEATHER["function"]],
                "messages": [
                    {"role": "user", "content": "U"},
                    {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
                    {"role": "function", "name": "get_weather", "content": None},
                ],
            },
        )
    assert resp.status_code == 200
    tool_result = convo(bridge.fake.messages_requests()[-1])[-1][1][0]
    assert tool_result["type"] == "tool_result" and tool_result["content"] == ""


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [{"role": "user", "content": "U"}, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
            "tool_calls",
        ),
        (
            [
                {"role": "user", "content": "U"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "user", "content": "never mind"},
            ],
            "tool_calls",
        ),
        (
            [{"role": "user", "content": "U"}, {"role": "assistant", "content": None, "audio": {"id": "audio_1"}}],
            "audio",
        ),
    ],
)
async def test_what_claude_cannot_answer_is_a_400_naming_the_field(
    bridge: Bridge, messages: list[dict[str, Any]], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await ask(bridge, messages, tools=[WEATHER])
    assert info.value.param == f"messages[1].{param}"
    assert not bridge.fake.messages_requests()


async def test_a_session_turn_keeps_its_instructions_leading(bridge: Bridge) -> None:
    client = bridge.client()
    session = {"session_id": "sess_instr"}
    await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "first <<say:one>>"}], extra_body=session
    )
    _, req = await ask(
        bridge,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "second <<say:two>>"}],
        extra_body=session,
    )
    assert prompt(req) == "Be brief."
    assert convo(req) == [("user", "first <<say:one>>"), ("assistant", [text("one")]), ("user", "second <<say:two>>")]
    _, req = await ask(bridge, [{"role": "developer", "content": "Summarise."}], extra_body=session)
    assert convo(req)[-2:] == [("assistant", [text("two")]), ("user", [note("Summarise.")])]
