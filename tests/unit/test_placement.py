"""Conversation keys and the choice of a warm process, without processes."""

from __future__ import annotations

import attrs

from supervisor import placement
from supervisor.conversation import Held, HeldLine, chain, common_prefix, next_key, resume_point
from supervisor.launch import ClientTool, LaunchProfile
from supervisor.turn import Line

P = LaunchProfile()
W = ClientTool("get_weather", "w", "{}")
T = ClientTool("get_time", "t", "{}")


@attrs.define
class FakeSlot:
    name: str
    profile: LaunchProfile = P
    system_prompt: str = ""
    sticky: frozenset[ClientTool] | None = None
    conversation: Held | None = None
    last_used: float = 0.0


LINES = [
    Line("user", "hello"),
    Line("assistant", [{"type": "tool_use", "id": "toolu_1", "name": "mcp__c__f", "input": {"a": 1}}]),
    Line("user", [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]),
    Line("assistant", "done"),
]


def held(namespace: str, lines: list[Line]) -> Held:
    keys = chain(namespace, lines)
    return Held(
        namespace,
        tuple(HeldLine(keys[i + 1], f"u{i}" if line.role == "user" else None) for i, line in enumerate(lines)),
    )


def test_keys_name_prefixes_in_a_normal_form() -> None:
    a = chain("ns", LINES)
    echoed = [
        Line("user", [{"type": "text", "text": "hello"}]),
        LINES[1],
        Line("user", [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "r"}]}]),
        Line("assistant", [{"type": "text", "text": "done"}, {"type": "text", "text": ""}]),
    ]
    assert chain("ns", echoed) == a, "a string and text parts are the same line"
    assert chain("other", LINES)[1:] != a[1:], "owners never share keys"
    assert next_key(a[2], LINES[2]) == a[3]
    changed = [*LINES[:2], Line("user", [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}])]
    assert chain("ns", changed)[:3] == a[:3] and chain("ns", changed)[3] != a[3]


def test_common_prefix_and_resume_point() -> None:
    conv = held("ns", LINES)
    assert common_prefix(conv, "ns", chain("ns", LINES)) == 4
    assert common_prefix(conv, "ns", chain("ns", LINES[:2])) == 2
    assert common_prefix(conv, "other", chain("other", LINES)) == 0
    edited = [LINES[0], Line("assistant", "something else"), *LINES[2:]]
    assert common_prefix(conv, "ns", chain("ns", edited)) == 1
    assert resume_point(conv, 4) == 4, "nothing to remove"
    assert resume_point(conv, 2) == 2, "line 2 is a user line: rewind to it"
    assert resume_point(conv, 1) == 0, "line 1 is an assistant line: back to the user line before it"
    starts_with_answer = held("ns", [Line("assistant", "hi"), Line("user", "x")])
    assert resume_point(starts_with_answer, 0) == -1, "an assistant line cannot be a rewind target"


def test_own_conversation_first_then_the_closest_fit_then_steal() -> None:
    keys = chain("ns", LINES)
    want = placement.Want(P, prompted=True, namespace="ns", keys=keys)
    mine = FakeSlot("mine", system_prompt="x", conversation=held("ns", LINES[:2]), last_used=1)
    theirs = FakeSlot("theirs", conversation=held("other", LINES), last_used=5)
    blank = FakeSlot("blank", last_used=9)
    prompted = FakeSlot("prompted", system_prompt="y", last_used=2)
    choice = placement.pick([theirs, blank, prompted, mine], want)
    assert choice is not None and choice.slot is mine and choice.resume == 2
    choice = placement.pick([theirs, blank, prompted], want)
    assert choice is not None and choice.slot is prompted, "the blank process is kept for turns only it can serve"
    assert placement.pick([theirs], want) is None, "never someone else's conversation without need"
    stolen = placement.steal([theirs], want)
    assert stolen is not None and stolen.slot is theirs and stolen.resume == 0 and stolen.steals


def test_what_a_process_cannot_forget_decides_what_it_serves() -> None:
    plain = placement.Want(P)
    with_tools = placement.Want(P, tools=frozenset({W}))
    prompted = FakeSlot("prompted", system_prompt="x")
    tooled = FakeSlot("tooled", sticky=frozenset({W}))
    assert not placement.compatible(prompted, plain), "no way back to no system prompt"
    assert placement.compatible(tooled, with_tools)
    assert not placement.compatible(tooled, plain), "its tools would leak"
    assert not placement.compatible(tooled, placement.Want(P, tools=frozenset({W, T}))), "new tools would be deferred"
    assert not placement.compatible(FakeSlot("schema", profile=LaunchProfile(json_schema="{}")), plain)
    blank = FakeSlot("blank")
    choice = placement.pick([blank, tooled], with_tools)
    assert choice is not None and choice.slot is tooled
    tooled.last_used = 1
    assert placement.victim([prompted, tooled, blank], plain) is prompted, "the least recently used that cannot serve"


def test_standby_replaces_an_unused_tainted_process_holding_nothing() -> None:
    old = FakeSlot("old", sticky=frozenset({W}), last_used=0)
    recent = FakeSlot("recent", system_prompt="x", last_used=9)
    holding = FakeSlot("holding", sticky=frozenset({T}), conversation=held("ns", LINES), last_used=0)
    blank = FakeSlot("blank", last_used=0)
    assert placement.standby_victim([old, recent, holding, blank], P, now=10, min_idle=2) is old
    assert placement.standby_victim([recent, holding, blank], P, now=10, min_idle=2) is None
    assert placement.is_blank(blank, P) and not placement.is_blank(old, P)
