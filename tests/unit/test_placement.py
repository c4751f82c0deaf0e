"""Conversation keys and the choice of a warm process, without processes."""

from __future__ import annotations

import attrs

from supervisor import placement
from supervisor.conversation import Held, HeldLine, chain, common_prefix, next_key, resume_point
from supervisor.launch import ClientTool, LaunchProfile
from supervisor.turn import Line
from tests.fake_slot import FakeSlot

P = LaunchProfile()
W = ClientTool("get_weather", "w", "{}")
T = ClientTool("get_time", "t", "{}")


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


@attrs.frozen
class FakeWaiting:
    want: placement.Want
    since: float


def want_for(namespace: str, lines: list[Line], tools: frozenset[ClientTool] = frozenset()) -> placement.Want:
    return placement.Want(P, tools=tools, namespace=namespace, keys=chain(namespace, lines))


def test_a_freed_process_goes_to_its_conversation_then_its_tool_set_then_arrival_order() -> None:
    mine = FakeSlot("mine", conversation=held("a", LINES[:2]), sticky=frozenset({W}))
    toolset = FakeSlot("tools", sticky=frozenset({T}))
    waiting = [
        FakeWaiting(want_for("x", LINES), since=10.0),  # first in line, nothing fits it
        FakeWaiting(want_for("y", LINES, frozenset({T})), since=10.1),  # a process has its tool set
        FakeWaiting(want_for("a", LINES, frozenset({W})), since=10.2),  # its own conversation is idle
        FakeWaiting(want_for("z", LINES), since=10.3),
    ]
    assert placement.order(waiting, [mine, toolset], now=11.0, aging=2.0) == [2, 1, 0, 3]
    # nothing idle fits anyone: arrival order
    assert placement.order(waiting, [], now=11.0, aging=2.0) == [0, 1, 2, 3]


def test_aging_puts_long_waiters_first_in_arrival_order() -> None:
    mine = FakeSlot("mine", conversation=held("a", LINES[:2]))
    waiting = [
        FakeWaiting(want_for("x", LINES), since=10.0),
        FakeWaiting(want_for("w", LINES), since=10.5),
        FakeWaiting(want_for("a", LINES), since=11.9),
    ]
    # x and w waited 2 s or more: they come before the affinity match, in arrival order
    assert placement.order(waiting, [mine], now=12.5, aging=2.0) == [0, 1, 2]
    assert placement.order(waiting, [mine], now=11.95, aging=2.0) == [2, 0, 1]


def test_a_turn_waits_a_bounded_time_for_its_own_busy_process_only() -> None:
    busy = FakeSlot("busy", conversation=held("a", LINES[:2]))
    assert placement.waits_for_own(want_for("a", LINES), [busy], waited=0.2, affinity_wait=1.0)
    assert not placement.waits_for_own(want_for("a", LINES), [busy], waited=1.0, affinity_wait=1.0), "bounded"
    assert not placement.waits_for_own(want_for("b", LINES), [busy], waited=0.0, affinity_wait=1.0), "not its own"
    other = [Line("user", "something else"), *LINES[1:]]
    assert not placement.waits_for_own(want_for("a", other), [busy], waited=0.0, affinity_wait=1.0), "no shared prefix"


def test_a_warm_conversation_is_never_offered_to_another_owner() -> None:
    slot = FakeSlot("held", conversation=held("owner", LINES))
    assert placement.own_point(slot, want_for("owner", LINES)) == 4
    assert placement.own_point(slot, want_for("intruder", LINES)) == 0
    assert placement.pick([slot], want_for("intruder", LINES)) is None, "same lines, other owner: not its own"


def test_a_one_off_conversation_is_taken_before_a_returning_one() -> None:
    returning = FakeSlot("returning", conversation=held("a", LINES), last_used=1.0, returning=True)
    one_off = FakeSlot("one-off", conversation=held("b", LINES), last_used=5.0)
    want = want_for("c", LINES)
    got = placement.steal([returning, one_off], want, one_off=True)
    assert got is not None and got.slot is one_off and got.steals
    assert placement.steal([returning], want, one_off=True) is None, "an agent that came back keeps its process"
    got = placement.steal([returning, one_off], want)
    assert got is not None and got.slot is returning, "without the filter: the least recently used"


def test_the_standby_covers_every_tool_set_in_recent_use() -> None:
    blank = FakeSlot("blank")
    tooled = FakeSlot("tooled", sticky=frozenset({W}))
    one_off = FakeSlot("one-off", conversation=held("ns", LINES))
    continued = FakeSlot("continued", conversation=held("ns", LINES), returning=True)
    prompted = FakeSlot("prompted", system_prompt="x")
    apps = [frozenset({W}), frozenset({T}), frozenset({W, T})]
    assert placement.standby_shortfall([], P, 1, ()) == 1
    assert placement.standby_shortfall([blank], P, 1, ()) == 0
    assert placement.standby_shortfall([blank], P, 1, apps) == 2, "one ready per tool set"
    assert placement.standby_shortfall([blank, tooled], P, 1, apps) == 1, "a process with exactly a set covers it"
    assert placement.standby_shortfall([blank, tooled, one_off], P, 1, apps) == 1, "a held one is not ready"
    assert placement.standby_shortfall([continued, prompted], P, 1, ()) == 1, "neither can take any turn"
    assert placement.standby_shortfall([blank], P, 0, [frozenset()]) == 0, "no tools: any blank serves"


def test_a_full_pool_rewinds_its_least_recently_used_plain_conversation_into_the_standby() -> None:
    old = FakeSlot("old", conversation=held("ns", LINES), returning=True, last_used=0)
    newer = FakeSlot("newer", conversation=held("ns", LINES), returning=True, last_used=5)
    tooled = FakeSlot("tooled", sticky=frozenset({W}), conversation=held("ns", LINES), last_used=-1)
    assert placement.reclaim_for_standby([newer, old, tooled], P, now=10, min_idle=2) is old
    assert placement.reclaim_for_standby([newer, tooled], P, now=6, min_idle=2) is None, "used too recently"


def test_a_new_conversation_takes_an_awake_blank_process_before_a_parked_one() -> None:
    parked = FakeSlot("parked", parked=True, last_used=9)
    awake = FakeSlot("awake", last_used=1)
    choice = placement.pick([parked, awake], placement.Want(P))
    assert choice is not None and choice.slot is awake


def test_a_one_question_turn_gives_its_blank_process_back_blank() -> None:
    blank = FakeSlot("blank")
    assert placement.comes_back_blank(blank, placement.Want(P))
    assert not placement.comes_back_blank(blank, placement.Want(P, holds=True)), "it keeps the conversation"
    assert not placement.comes_back_blank(blank, placement.Want(P, tools=frozenset({W}))), "it keeps the tools"
    assert not placement.comes_back_blank(blank, placement.Want(P, prompted=True)), "it keeps the prompt"
    assert not placement.comes_back_blank(FakeSlot("tooled", sticky=frozenset({W})), placement.Want(P))
