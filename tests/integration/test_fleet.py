"""Many agents on few turns at once: warm conversations beyond POOL_SIZE, affinity, parking.

POOL_SIZE bounds the turns that run at once; WARM_CONVERSATIONS the processes, each holding one
conversation. Idle processes are parked (SIGSTOP) and continued when a turn needs them.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx

from supervisor.slot import Slot, SlotState
from tests.fake_upstream import block_text
from tests.held_conversations import convo, expected, turns
from tests.sample_tools import WEATHER


def seated(bridge: Any) -> list[Slot]:
    return bridge.pool.slots()


async def until(check: Any, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def agent(tag: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"{tag} start SECRET-{tag}"},
        {"role": "assistant", "content": f"{tag} started"},
        {"role": "user", "content": f"{tag} q1 <<say:{tag} a1>>"},
    ]


async def test_more_conversations_than_turns_at_once_all_stay_warm(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="4", API_KEYS="sk-a,sk-b,sk-c")
    histories = {key: agent(key[3:]) for key in ("sk-a", "sk-b", "sk-c")}
    for round_ in range(3):
        # A conversation held once but never continued may go to a newcomer (a rewind instead of
        # a process start); once its owner came back, it keeps its process.
        if round_ == 2:
            del logs[:]
        for key, messages in histories.items():
            tag = key[3:]
            if round_:
                messages.append({"role": "user", "content": f"{tag} r{round_} <<has:SECRET-{tag}>>"})
            resp = await bridge.client(key).chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
            if round_:
                assert resp.choices[0].message.content == "yes"
                (req,) = bridge.fake.find(f"{tag} r{round_}")
                assert convo(req) == expected(messages)
            messages.append({"role": "assistant", "content": resp.choices[0].message.content})
    assert turns(logs) == [(6, 0)] * 3, "each of three agents found its own warm process on a pool of one"
    assert bridge.fake.max_in_flight == 1


async def step(bridge: Any, key: str, messages: list[dict[str, Any]], text: str) -> str:
    """One turn of an agent: `text` as the next user message (unless the history ends with
    one), the answer appended; checks the upstream got exactly the conversation."""
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": text})
    resp = await bridge.client(key).chat.completions.create(model="gpt-4o", messages=messages)
    answer = resp.choices[0].message.content or ""
    marker = block_text(messages[-1]["content"]).split(" <<")[0]
    (req,) = bridge.fake.find(marker)
    assert convo(req) == expected(messages), "the upstream got exactly the client's conversation"
    messages.append({"role": "assistant", "content": answer})
    return answer


async def test_a_warm_conversation_is_never_served_to_another_owner(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    """Two keys send the very same conversation: each continues only its own process."""
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="3", API_KEYS="sk-alpha,sk-beta")
    alpha = agent("same")
    await step(bridge, "sk-alpha", alpha, "")
    await step(bridge, "sk-alpha", alpha, "same q2 <<say:same a2>>")
    (held,) = [s for s in seated(bridge) if s.conversation is not None]
    lines = held.conversation.lines if held.conversation else ()
    beta = [dict(m) for m in alpha[:-1]]  # alpha's conversation, word for word, and its own question
    beta[-1] = {"role": "user", "content": "same q2 beta <<say:b>>"}
    del logs[:]
    await step(bridge, "sk-beta", beta, "")
    assert turns(logs) == [(0, 4)], "beta replayed the whole conversation, on another process"
    assert held.conversation is not None and held.conversation.lines == lines, "alpha's is held, untouched"
    assert len({s.conversation.namespace for s in seated(bridge) if s.conversation is not None}) == 2
    del logs[:]
    assert await step(bridge, "sk-alpha", alpha, "same q3 <<has:SECRET-same>>") == "yes"
    assert turns(logs) == [(6, 0)]


async def test_a_conversation_released_under_memory_pressure_continues_with_nothing_lost(  # type: ignore[no-untyped-def]
    make_bridge, logs
) -> None:
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="3", API_KEYS="sk-a,sk-b")
    a, b = agent("mpa"), agent("mpb")
    await asyncio.gather(step(bridge, "sk-a", a, ""), step(bridge, "sk-b", b, ""))
    for key, messages in (("sk-a", a), ("sk-b", b)):  # both came back once: neither is a one-off
        await step(bridge, key, messages, f"mp{key[3:]} again <<say:ok>>")
    await until(lambda: sum(1 for s in seated(bridge) if s.conversation is not None) == 2)
    # What the pool does when /proc/meminfo says memory is short (supervisor.seats._relieve_memory).
    released = bridge.pool.release_lru("test")
    while released is not None and released.conversation is None:  # blank standbys go first
        released = bridge.pool.release_lru("test")
    assert released is not None and released.conversation is not None
    await until(lambda: released.pid is None or not _running(released.pid))
    assert sum(1 for s in seated(bridge) if s.conversation is not None) == 1
    del logs[:]
    for key, messages in (("sk-a", a), ("sk-b", b)):
        tag = key[3:]
        assert await step(bridge, key, messages, f"mp{tag} q3 <<has:SECRET-mp{tag}>>") == "yes", "nothing lost"
    assert sorted(turns(logs)) == [(0, 6), (6, 0)], "one replayed in full, the other still warm"


async def test_more_conversations_than_warm_processes_evict_the_least_recently_used(  # type: ignore[no-untyped-def]
    make_bridge, logs
) -> None:
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="2", STANDBY_SLOTS="0", API_KEYS="sk-a,sk-b,sk-c")
    histories = {key: agent("ev" + key[3:]) for key in ("sk-a", "sk-b", "sk-c")}
    for key, messages in histories.items():
        await step(bridge, key, messages, "")
        await step(bridge, key, messages, f"ev{key[3:]} again <<say:ok>>")
    assert len(seated(bridge)) == 2
    del logs[:]
    for key in ("sk-c", "sk-a"):
        tag = "ev" + key[3:]
        assert await step(bridge, key, histories[key], f"{tag} q3 <<has:SECRET-{tag}>>") == "yes"
    assert turns(logs) == [(6, 0), (0, 6)], "c was warm; a, the least recently used, had been released"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


async def test_a_parked_process_keeps_its_conversation_and_functions(make_bridge) -> None:  # type: ignore[no-untyped-def]
    """docs/cli-findings.md: a CLI stopped with SIGSTOP and continued keeps its conversation, its
    MCP connection to the bridge's functions, and reaches the upstream again."""
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="2", PARK_AFTER="0.1")
    client = bridge.client()
    messages: list[dict[str, Any]] = agent("park")
    resp = await client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=messages)  # type: ignore[arg-type, list-item]
    messages.append({"role": "assistant", "content": resp.choices[0].message.content})
    holder = next(s for s in seated(bridge) if s.conversation is not None)
    assert holder.pid is not None
    await until(lambda: holder.parked and _stopped(holder.pid or 0))
    await asyncio.sleep(1.5)
    messages.append({"role": "user", "content": "park q2 <<has:SECRET-park>>"})
    resp = await client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=messages)  # type: ignore[arg-type, list-item]
    assert resp.choices[0].message.content == "yes"
    (req,) = bridge.fake.find("park q2")
    assert convo(req) == expected(messages)
    assert [t["name"] for t in req.body["tools"] if not t.get("defer_loading")] == ["mcp__c__get_weather"]
    assert holder.parked_seconds > 1.0


async def test_a_parked_process_that_dies_is_replaced(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2", WARM_CONVERSATIONS="2", PARK_AFTER="0.1")
    await until(lambda: any(s.parked for s in seated(bridge)))
    victim = next(s for s in seated(bridge) if s.parked)
    assert victim.pid is not None
    await until(lambda: _stopped(victim.pid or 0))
    await asyncio.sleep(0.6)  # (the watch looks every 0.5 s)
    (standby,) = [s for s in seated(bridge) if s is not victim]
    assert not standby.parked, "the standby's blank process stays awake: waking one costs its turn ~15 ms"
    restarts = bridge.pool.restarts
    os.kill(victim.pid, signal.SIGKILL)
    await until(lambda: bridge.pool.restarts == restarts + 1)
    await until(lambda: len(seated(bridge)) == 2 and all(s.state is SlotState.IDLE for s in seated(bridge)))
    assert victim not in seated(bridge)
    resp = await bridge.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "after <<say:fine>>"}]
    )
    assert resp.choices[0].message.content == "fine"


async def test_a_client_that_leaves_while_waiting_for_its_own_busy_process_leaves_nothing(  # type: ignore[no-untyped-def]
    make_bridge,
) -> None:
    bridge = await make_bridge(POOL_SIZE="2", WARM_CONVERSATIONS="3", AFFINITY_WAIT="10", QUEUE_TIMEOUT="20")
    messages = agent("own")
    resp = await bridge.client().chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    messages.append({"role": "assistant", "content": resp.choices[0].message.content})
    await until(lambda: any(s.conversation is not None and s.state is SlotState.IDLE for s in seated(bridge)))
    before = {s.slot_id for s in seated(bridge)}
    slow = [*messages, {"role": "user", "content": "own slow <<delay:2500>> <<say:slow>>"}]
    parallel = [*messages, {"role": "user", "content": "own parallel LEAVER <<say:never>>"}]
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as http:
        first = asyncio.create_task(http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": slow}))
        await until(lambda: bool(bridge.fake.find("own slow")))
        second = asyncio.create_task(http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": parallel}))
        await until(lambda: bridge.pool.stats()["queue_depth"] == 1)
        assert bridge.pool.stats()["busy"] == 1, "it waits for its own process, not for another"
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await until(lambda: bridge.pool.stats()["queue_depth"] == 0 and bridge.pool.queue_entries() == 0)
        assert (await first).status_code == 200
    await until(lambda: bridge.pool.stats()["busy"] == 0)
    await asyncio.sleep(0.3)
    assert not bridge.fake.find("LEAVER"), "the request that left never reached the upstream"
    assert {s.slot_id for s in seated(bridge)} == before, "no process was started or replaced for it"
    assert bridge.pool.stats()["busy"] == 0 and bridge.pool.stats()["starting"] == 0


async def test_each_tool_set_in_recent_use_has_a_blank_process_ready(make_bridge) -> None:  # type: ignore[no-untyped-def]
    """Three apps (three tool sets, each used in two turns: a set seen once is not an app's and
    gets none) each run a conversation: the pool then keeps three blank processes ready (one per
    set, in free seats), so the next new conversation of each app starts without waiting for a
    process; with no tools in use it keeps one (STANDBY_SLOTS)."""
    bridge = await make_bridge(POOL_SIZE="2", WARM_CONVERSATIONS="8")

    def blank() -> list[Slot]:
        return [
            s
            for s in seated(bridge)
            if s.state in (SlotState.IDLE, SlotState.STARTING) and s.sticky is None and s.conversation is None
        ]

    await until(lambda: len(blank()) == 2)
    client = bridge.client()
    for app in range(3):
        tool = {**WEATHER, "function": {**WEATHER["function"], "description": f"weather, app {app}"}}
        messages = agent(f"app{app}")
        resp = await client.chat.completions.create(model="gpt-4o", tools=[tool], messages=messages)  # type: ignore[arg-type, list-item]
        assert resp.choices[0].message.content == f"app{app} a1"
        messages += [{"role": "assistant", "content": f"app{app} a1"}, {"role": "user", "content": "q2 <<say:ok>>"}]
        resp = await client.chat.completions.create(model="gpt-4o", tools=[tool], messages=messages)  # type: ignore[arg-type, list-item]
        assert resp.choices[0].message.content == "ok"
    await until(lambda: len(blank()) >= 3 and all(s.state is SlotState.IDLE for s in blank()), timeout=30)
    await asyncio.sleep(1.2)  # (the pool looks again every 0.5 s)
    assert len(seated(bridge)) - len(blank()) == 3, "three conversations held"
