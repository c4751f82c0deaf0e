"""Stateless clients find the process that holds their conversation; prompts and tools switch
on warm processes; nobody ever sees a conversation that is not a prefix of their own."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from tests.fake_upstream import Recorded
from tests.held_conversations import convo, expected, turns
from tests.sample_tools import TIME, WEATHER, call


def tool_names(req: Recorded) -> list[str]:
    return sorted(t["name"] for t in req.body.get("tools", []) if not t.get("defer_loading"))


async def test_a_stateless_agent_resumes_on_its_process_and_replays_nothing(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    client = bridge.client()
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "step1 " + call("get_weather", {"city": "Oslo"})},
    ]
    first = await client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=messages)  # type: ignore[arg-type, list-item]
    (tc,) = first.choices[0].message.tool_calls or []
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tc.id, "content": "RAIN-OSLO"},
    ]
    second = await client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=messages)  # type: ignore[arg-type, list-item]
    messages += [
        second.choices[0].message.model_dump(exclude_none=True),
        {"role": "user", "content": "step3 <<has:RAIN-OSLO>>"},
    ]
    third = await client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=messages)  # type: ignore[arg-type, list-item]
    assert third.choices[0].message.content == "yes"
    # The first exchange is not held (see turns.start); from then on nothing is replayed.
    assert turns(logs) == [(0, 0), (0, 2), (4, 0)], "each later turn ran on the process holding the history"
    (req,) = bridge.fake.find("step3")
    assert [r for r, _ in convo(req)] == ["user", "assistant", "user", "assistant", "user"]
    assert req.system_text().endswith("You are an agent.")


async def test_an_edited_history_rewinds_to_the_last_matching_line(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    base = [
        {"role": "user", "content": "e1 <<say:a1>>"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "e2 SECRET-E2 <<say:a2>>"},
    ]
    await client.chat.completions.create(model="gpt-4o", messages=base)  # type: ignore[arg-type]
    edited = [*base[:2], {"role": "user", "content": "e2 edited EDIT-TOKEN-77 <<has:SECRET-E2>>"}]
    resp = await client.chat.completions.create(model="gpt-4o", messages=edited)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "no", "the dropped message is gone from the process"
    (req,) = bridge.fake.find("e2 edited")
    assert convo(req) == expected(edited)
    assert turns(logs) == [(0, 2), (2, 0)], "the shared prefix was kept, the edited line replaced"
    truncated = [*base[:2], {"role": "user", "content": "e3 <<has:EDIT-TOKEN-77>>"}]
    resp = await client.chat.completions.create(model="gpt-4o", messages=truncated)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "no"
    (req,) = bridge.fake.find("e3 ")
    assert convo(req) == expected(truncated)


async def test_twelve_interleaved_stateless_clients_each_see_only_their_own_history(make_bridge) -> None:  # type: ignore[no-untyped-def]
    """Twelve conversations, interleaved at random on three processes: held, stolen and
    replayed turns mix, and every upstream request holds exactly its own conversation."""
    bridge = await make_bridge(POOL_SIZE="3", WARM_CONVERSATIONS="3")
    client = bridge.client()
    rng = random.Random(7)
    histories: dict[int, list[dict[str, Any]]] = {k: [] for k in range(12)}

    async def step(k: int, t: int) -> None:
        history = histories[k]
        other = f"SECRET-{(k + 1) % 12}-{t}"  # the next client's secret of the same turn
        history.append({"role": "user", "content": f"c{k}-t{t} SECRET-{k}-{t} <<has:{other}>>"})
        resp = await client.chat.completions.create(model="gpt-4o", messages=list(history))  # type: ignore[arg-type]
        assert resp.choices[0].message.content == "no", f"client {k} saw another client's secret"
        history.append({"role": "assistant", "content": resp.choices[0].message.content})

    order = [k for k in range(12) for _ in range(3)]
    rng.shuffle(order)
    done = dict.fromkeys(range(12), 0)
    for batch_start in range(0, len(order), 3):
        batch = order[batch_start : batch_start + 3]
        if len(set(batch)) < len(batch):  # one turn per client at a time, as a real client does
            for k in batch:
                await step(k, done[k])
                done[k] += 1
            continue
        steps = []
        for k in batch:
            steps.append(step(k, done[k]))
            done[k] += 1
        await asyncio.gather(*steps)
    for k in range(12):
        for t in range(3):
            (req,) = bridge.fake.find(f"c{k}-t{t} ")
            assert convo(req) == expected(histories[k][: 2 * t + 1]), f"client {k} turn {t} saw a foreign line"


async def test_system_prompts_switch_on_one_warm_process(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="1")
    client = bridge.client()
    (pid,) = bridge.pool.pids()
    for i, system in enumerate(["You are A.", "You are B.", "You are C. 2026-12-01T10:00:0" + "1", "You are A."]):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": f"sp{i} <<say:ok>>"}]
        await client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        (req,) = bridge.fake.find(f"sp{i} ")
        assert req.system_text().endswith(system)
        assert sum(o in req.system_text() for o in ("You are A.", "You are B.", "You are C.")) == 1
    assert bridge.pool.pids() == [pid], "no process was started for a new system prompt"
    # A held conversation continues under the system prompt its next request sends.
    earlier = [{"role": "user", "content": "held0"}, {"role": "assistant", "content": "zero"}]
    history = [
        {"role": "system", "content": "Prompt ONE."},
        *earlier,
        {"role": "user", "content": "held1 <<say:ok>>"},
    ]
    first = await client.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    history = [
        {"role": "system", "content": "Prompt TWO."},
        *history[1:],
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "held2 <<say:ok>>"},
    ]
    await client.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    (req,) = bridge.fake.find("held2")
    assert req.system_text().endswith("Prompt TWO.") and "Prompt ONE." not in req.system_text()
    assert turns(logs)[-1] == (4, 0), "the held conversation was continued"
    assert bridge.pool.pids() == [pid]


async def test_a_request_without_a_system_prompt_never_gets_one(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "p1 <<say:ok>>"}],
    )
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "p2 <<say:ok>>"}])
    (req,) = bridge.fake.find("p2 ")
    system = req.body.get("system", [])
    assert len(system) == 2, "only the CLI's two fixed blocks: a process cannot drop a prompt once set"
    assert "Be terse." not in req.system_text()


async def test_tool_sets_switch_on_warm_processes_without_leaking(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    client = bridge.client()
    extra = {"type": "function", "function": {"name": "get_tide", "parameters": {"type": "object", "properties": {}}}}
    sets = [[WEATHER], [WEATHER, TIME], [WEATHER, extra], [TIME], [], [WEATHER, TIME, extra], [TIME, extra]]
    for i, tools in enumerate(sets):
        await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"ts{i} <<say:ok>>"}],
            **({"tools": tools} if tools else {}),  # type: ignore[arg-type]
        )
        (req,) = bridge.fake.find(f"ts{i} ")
        assert tool_names(req) == sorted("mcp__c__" + t["function"]["name"] for t in tools), f"set {i}"  # type: ignore[index]


async def test_held_conversations_belong_to_their_api_key(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="1", API_KEYS="sk-alpha,sk-beta")
    alpha, beta = bridge.client("sk-alpha"), bridge.client("sk-beta")
    history = [
        {"role": "user", "content": "shared start"},
        {"role": "assistant", "content": "started"},
        {"role": "user", "content": "shared question <<say:shared answer>>"},
    ]
    await alpha.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    held = next(iter(bridge.pool.slots()), None)
    assert held is not None and held.conversation is not None
    namespace = held.conversation.namespace
    follow = [*history, {"role": "assistant", "content": "shared answer"}, {"role": "user", "content": "kb <<say:x>>"}]
    await beta.chat.completions.create(model="gpt-4o", messages=follow)  # type: ignore[arg-type]
    held = next(iter(bridge.pool.slots()), None)
    assert held is not None and held.conversation is not None
    assert held.conversation.namespace != namespace, "beta did not continue alpha's conversation"
    (req,) = bridge.fake.find("kb ")
    assert convo(req) == expected(follow)


async def test_held_conversations_are_forgotten_after_hold_ttl(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", HOLD_TTL="0.6")
    client = bridge.client()
    two = [{"role": "user", "content": "ttl0"}, {"role": "assistant", "content": "zero"}]
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[*two, {"role": "user", "content": "ttl <<say:ok>>"}],  # type: ignore[list-item]
    )
    slot = next(iter(bridge.pool.slots()), None)
    assert slot is not None and slot.conversation is not None
    for _ in range(60):
        if slot.conversation is None:
            break
        await asyncio.sleep(0.1)
    assert slot.conversation is None and slot.alive, "rewound, not killed"
    assert [e["held"] for e in logs if e["event"] == "request"] == [True]
    del logs[:]
    never = await make_bridge(POOL_SIZE="1", HOLD_TTL="0")
    await never.client().chat.completions.create(
        model="gpt-4o",
        messages=[*two, {"role": "user", "content": "ttl0 <<say:ok>>"}],  # type: ignore[list-item]
    )
    for _ in range(40):
        seat = next(iter(never.pool.slots()), None)
        if seat is not None and seat.conversation is None:
            break
        await asyncio.sleep(0.05)
    seat = next(iter(never.pool.slots()), None)
    assert seat is not None and seat.conversation is None, "HOLD_TTL=0 holds nothing"
    assert [e["held"] for e in logs if e["event"] == "request"] == [False], "and its request log says so"


async def test_a_stop_sequence_turn_keeps_the_earlier_held_conversation(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    history = [
        {"role": "user", "content": "st0"},
        {"role": "assistant", "content": "zero"},
        {"role": "user", "content": "st1 <<say:first>>"},
    ]
    await client.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    history += [{"role": "assistant", "content": "first"}, {"role": "user", "content": "st2 <<say:cut HERE rest>>"}]
    cut = await client.chat.completions.create(model="gpt-4o", messages=history, stop=["HERE"])  # type: ignore[arg-type]
    assert cut.choices[0].message.content == "cut "
    retry = [*history[:4], {"role": "user", "content": "st3 <<has:rest>>"}]
    resp = await client.chat.completions.create(model="gpt-4o", messages=retry)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "no", "the cut answer was not kept"
    assert turns(logs) == [(0, 2), (4, 0), (4, 0)]
    (req,) = bridge.fake.find("st3 ")
    assert json.dumps(convo(req)).count("st2") == 0


async def test_a_messages_api_client_resumes_on_its_process_too(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "m0"},
        {"role": "assistant", "content": "zero"},
        {"role": "user", "content": "m1 " + call("get_weather", {"city": "Rome"})},
    ]
    async with bridge.http() as http:
        first = (
            await http.post(
                "/v1/messages", json={"model": "sonnet", "max_tokens": 50, "tools": [tool], "messages": messages}
            )
        ).json()
        (use,) = [b for b in first["content"] if b["type"] == "tool_use"]
        messages += [
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "SUN-ROME"}]},
        ]
        second = (
            await http.post(
                "/v1/messages", json={"model": "sonnet", "max_tokens": 50, "tools": [tool], "messages": messages}
            )
        ).json()
    assert second["content"][0]["text"] == "after-tool: SUN-ROME"
    assert turns(logs) == [(0, 2), (4, 0)]


async def test_a_first_stateless_exchange_is_not_held(make_bridge, logs) -> None:  # type: ignore[no-untyped-def]
    """One-question requests are rarely continued: their process is rewound at once (as a
    session's is not), and a continuation replays the one exchange."""
    bridge = await make_bridge(POOL_SIZE="1")
    client = bridge.client()
    first = [{"role": "user", "content": "fx1 <<say:ok>>"}]
    await client.chat.completions.create(model="gpt-4o", messages=first)  # type: ignore[arg-type]
    for _ in range(40):
        seat = next(iter(bridge.pool.slots()), None)
        if seat is not None and seat.conversation is None:
            break
        await asyncio.sleep(0.05)
    assert seat is not None and seat.conversation is None
    follow = [*first, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "fx2 <<say:ok>>"}]
    await client.chat.completions.create(model="gpt-4o", messages=follow)  # type: ignore[arg-type]
    assert turns(logs) == [(0, 0), (0, 2)]
    assert any(s.conversation is not None for s in bridge.pool.slots()), "now it is held"
