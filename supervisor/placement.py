"""Which warm process a turn should run on. Pure: reads slots, changes nothing.

A process can serve a turn when it was launched with the turn's launch profile and holds
nothing the turn must not see: a process that once had a system prompt cannot go back to
none, and the first set of client tools a process announced upstream stays in all its later
requests while tools added later are only sent as deferred (`defer_loading`, invisible to the
model), so a process serves exactly its first tool set or, until it has one, any
(docs/cli-findings.md).

Among the processes that can, the order is:
1. one holding the longest prefix of the turn's own conversation (same owner): only the rest
   is replayed;
2. one holding no conversation, the one whose fixed state fits the turn most closely (so the
   most flexible processes stay free for turns only they can serve), then one not parked,
   then the warmest;
3. one holding a conversation its owner never continued: it is rewound first;
4. (the pool's own step) an empty seat is filled with a new process (seats: warm conversations);
5. one holding another conversation: it is rewound first, the least recently used one;
6. (the pool's own step) an idle process that cannot serve the turn is replaced.

Who is served first when several turns wait (`order`): a turn that waited `aging` seconds, in
arrival order, so none starves; then a turn whose own conversation an idle process holds; then
one whose tool set an idle process already has; then the rest, in arrival order. A turn whose
conversation is held by a *busy* process (its owner's parallel request) waits up to
`affinity_wait` for that process rather than take another (`waits_for_own`).

A process that cannot change back (it has tools or a system prompt of its own) is only
useful to turns like the ones it served; a *blank* one serves any turn of its launch
profile. So the pool keeps a standby of blank processes, one per recurring tool set (at
least `STANDBY_SLOTS`), so that the next new conversation of each app finds one ready
(`standby_shortfall`). When a seat is free a process is started; otherwise an idle process
that holds no conversation and has not been used for a while is replaced (`standby_victim`);
otherwise the least recently used plain conversation is rewound into one (`reclaim_for_standby`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from supervisor.conversation import Held, common_prefix, resume_point
from supervisor.launch import ClientTool, LaunchProfile


class SlotView(Protocol):
    """What placement reads of a slot."""

    profile: LaunchProfile
    system_prompt: str
    sticky: frozenset[ClientTool] | None
    conversation: Held | None
    last_used: float
    returning: bool  # its last turn continued a held conversation (the owner came back)
    parked: bool  # stopped while idle: its next turn pays ~15 ms to wake it


@attrs.frozen
class Want:
    """What a turn needs of a process."""

    profile: LaunchProfile
    prompted: bool = False
    tools: frozenset[ClientTool] = frozenset()
    namespace: str = ""
    keys: tuple[str, ...] = ()  # supervisor.conversation.chain over the turn's history
    holds: bool = False  # the process may keep the conversation after the turn


def comes_back_blank(slot: SlotView, want: Want) -> bool:
    """A blank process given to a turn that leaves nothing on it (no tools, no system prompt,
    nothing held): it is blank again once the turn is rewound, milliseconds after its answer."""
    return is_blank(slot, slot.profile) and not want.tools and not want.prompted and not want.holds


@attrs.frozen
class Pick:
    slot: SlotView
    resume: int  # history lines the process already holds; the turn replays the rest
    steals: bool = False  # the process held another conversation, which is rewound


def compatible(slot: SlotView, want: Want) -> bool:
    return (
        slot.profile == want.profile
        and (want.prompted or not slot.system_prompt)
        and (slot.sticky is None or slot.sticky == want.tools)
    )


def holds(slot: SlotView) -> bool:
    return slot.conversation is not None and bool(slot.conversation.lines)


def _fit(slot: SlotView, want: Want) -> tuple[int, int, bool, float]:
    """Lower is better: no new tool taint, then no new system-prompt taint, then one awake, then
    the warmest."""
    # A process with no tools of its own yet would take these for good: keep it for last.
    tools = 0 if slot.sticky == want.tools or (slot.sticky is None and not want.tools) else 1
    prompt = 0 if bool(slot.system_prompt) == want.prompted else 1
    return tools, prompt, slot.parked, -slot.last_used


def pick(idle: Iterable[SlotView], want: Want) -> Pick | None:
    """Steps 1 and 2: a process the turn can take without disturbing anyone."""
    best: tuple[int, float, SlotView] | None = None
    empty: list[SlotView] = []
    for slot in idle:
        if not compatible(slot, want):
            continue
        if not holds(slot):
            empty.append(slot)
            continue
        assert slot.conversation is not None
        point = resume_point(slot.conversation, common_prefix(slot.conversation, want.namespace, want.keys))
        if point > 0 and (best is None or (point, slot.last_used) > best[:2]):
            best = (point, slot.last_used, slot)
    if best is not None:
        return Pick(best[2], best[0])
    if empty:
        return Pick(min(empty, key=lambda s: _fit(s, want)), 0)
    return None


def steal(idle: Iterable[SlotView], want: Want, *, one_off: bool = False) -> Pick | None:
    """Step 4: the least recently used process holding a conversation the turn can replace.

    With `one_off`, only a conversation whose owner never came back (held once, not continued):
    taking it costs a rewind where a new process costs a start, while the conversations agents
    do continue stay warm (the pool asks for this before it fills a free seat)."""
    candidates = [
        s
        for s in idle
        if compatible(s, want)
        and holds(s)
        and s.conversation is not None
        and resume_point(s.conversation, 0) == 0
        and not (one_off and s.returning)
    ]
    if not candidates:
        return None
    return Pick(min(candidates, key=lambda s: s.last_used), 0, steals=True)


def victim(idle: Iterable[SlotView], want: Want) -> SlotView | None:
    """Step 5: the idle process to replace: one holding nothing first, then the least recently used."""
    candidates = [s for s in idle if not compatible(s, want)]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (holds(s), s.last_used))


def _plain(slot: SlotView, profile: LaunchProfile) -> bool:
    """Of `profile`, with no tools and no system prompt of its own (whatever it holds)."""
    return slot.profile == profile and slot.sticky is None and not slot.system_prompt


def is_blank(slot: SlotView, profile: LaunchProfile) -> bool:
    """A process that can still take any turn of `profile`: no tools, no prompt, nothing held."""
    return _plain(slot, profile) and not holds(slot)


def standby_shortfall(
    slots: Iterable[SlotView], profile: LaunchProfile, minimum: int, recent: Iterable[frozenset[ClientTool]]
) -> int:
    """How many blank processes to start so that every recurring tool set has a process
    ready for its next new conversation, and at least `minimum` can take any.

    A process that already has exactly a recent tool set and holds nothing covers that set;
    every other set needs a blank process of its own. A process holding a first exchange
    nobody continued does not count: the turn that took it would pay the rewind (and the
    wake-up) on its own request, ~10-25 ms (measured with bench.bench)."""
    ready = 0
    covered: set[frozenset[ClientTool]] = set()
    for slot in slots:
        if is_blank(slot, profile):
            ready += 1
        elif slot.profile == profile and slot.sticky is not None and not holds(slot):
            covered.add(slot.sticky)
    wanted = max(minimum, len({tools for tools in recent if tools and tools not in covered}))
    return max(0, wanted - ready)


def reclaim_for_standby(
    idle: Iterable[SlotView], profile: LaunchProfile, now: float, min_idle: float
) -> SlotView | None:
    """When every seat holds a conversation: the least recently used untainted one, unused for
    `min_idle` seconds, to rewind in the background into a blank standby. The next new
    conversation would take it anyway (step 5), with the rewind on its own request path."""
    candidates = [
        s
        for s in idle
        if _plain(s, profile)
        and holds(s)
        and s.conversation is not None
        and resume_point(s.conversation, 0) == 0
        and now - s.last_used >= min_idle
    ]
    return min(candidates, key=lambda s: s.last_used, default=None)


def standby_victim(idle: Iterable[SlotView], profile: LaunchProfile, now: float, min_idle: float) -> SlotView | None:
    """The idle process to replace with a blank one: unused for `min_idle` seconds, holding
    nothing, the least recently used."""
    candidates = [s for s in idle if not holds(s) and not is_blank(s, profile) and now - s.last_used >= min_idle]
    return min(candidates, key=lambda s: s.last_used, default=None)


class Waiting(Protocol):
    """What placement reads of a waiting turn."""

    want: Want
    since: float  # when it began to wait (monotonic seconds)


def own_point(slot: SlotView, want: Want) -> int:
    """How many of the turn's lines `slot` holds for it (0: none, or not its owner's)."""
    if not holds(slot) or not compatible(slot, want):
        return 0
    assert slot.conversation is not None
    return max(0, resume_point(slot.conversation, common_prefix(slot.conversation, want.namespace, want.keys)))


def _affinity(want: Want, idle: Sequence[SlotView]) -> int:
    """0: an idle process holds the turn's conversation; 1: one has exactly its tool set; 2: neither."""
    best = 2
    for slot in idle:
        if own_point(slot, want) > 0:
            return 0
        if want.tools and slot.sticky == want.tools and compatible(slot, want) and not holds(slot):
            best = 1
    return best


def order(waiting: Sequence[Waiting], idle: Sequence[SlotView], now: float, aging: float) -> list[int]:
    """Indexes of `waiting` (in arrival order) in the order they are served (see the module doc)."""
    ranked = []
    for i, w in enumerate(waiting):
        aged = now - w.since >= aging
        ranked.append((0 if aged else 1, 0 if aged else _affinity(w.want, idle), i))
    return [i for *_, i in sorted(ranked)]


def waits_for_own(want: Want, busy: Iterable[SlotView], waited: float, affinity_wait: float) -> bool:
    """The turn's conversation is on a busy process (its owner's parallel turn) and it has not yet
    waited `affinity_wait` for it: it takes no other process meanwhile."""
    return waited < affinity_wait and any(own_point(s, want) > 0 for s in busy)
