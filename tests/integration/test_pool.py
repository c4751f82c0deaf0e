"""Concurrency bounds, the wait queue, and isolation between requests sharing warm slots."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.fake_upstream import block_text


def convo(req) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(m["role"], block_text(m["content"])) for m in req.messages if m["role"] != "system"]


async def test_eight_concurrent_requests_run_in_parallel(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="8")
    client = bridge.client()
    results = await asyncio.gather(
        *(
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"<<delay:1500>> <<say:p{i}>>"}]
            )
            for i in range(8)
        )
    )
    assert sorted(r.choices[0].message.content or "" for r in results) == sorted(f"p{i}" for i in range(8))
    assert bridge.fake.max_in_flight == 8, "all eight turns were upstream at the same time"


async def test_queue_overflow_gets_429_with_retry_after(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", MAX_QUEUE="1", QUEUE_TIMEOUT="20", REQUEST_TIMEOUT="3")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "<<hang>> busy"}]}
    async with bridge.http() as http:
        first = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        for _ in range(200):
            if bridge.fake.find("busy"):
                break
            await asyncio.sleep(0.02)
        second = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        for _ in range(200):
            if bridge.pool.stats()["queue_depth"] == 1:
                break
            await asyncio.sleep(0.02)
        third = await http.post("/v1/chat/completions", json=body)
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(third.headers["Retry-After"]) >= 1
        assert bridge.pool.stats()["busy"] == 1, "no extra process was started for the overflow"
        statuses = sorted(r.status_code for r in await asyncio.gather(first, second))
    assert statuses == [504, 504]


async def test_queue_timeout_gets_429(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", QUEUE_TIMEOUT="0.5", REQUEST_TIMEOUT="3")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "<<hang>> qt"}]}
    async with bridge.http() as http:
        first = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        await asyncio.sleep(0.3)
        second = await http.post("/v1/chat/completions", json=body)
        assert second.status_code == 429
        assert "Retry-After" in second.headers
        assert (await first).status_code == 504


async def test_queued_requests_are_served_in_order(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", QUEUE_TIMEOUT="20")
    async with bridge.http() as http:

        async def ask(i: int) -> httpx.Response:
            return await http.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"<<delay:150>> order-{i}"}]},
            )

        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(ask(i)))
            await asyncio.sleep(0.03)
        assert all(r.status_code == 200 for r in await asyncio.gather(*tasks))
    seen = [block_text(r.messages[0]["content"]).split()[-1] for r in bridge.fake.find("order-")]
    assert seen == [f"order-{i}" for i in range(5)]


async def test_no_request_sees_another_requests_conversation(make_bridge) -> None:  # type: ignore[no-untyped-def]
    """Many turns on one warm process: each upstream call holds exactly its own conversation."""
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="1")
    client = bridge.client()
    pids = set()
    for i in range(12):
        history = [
            {"role": "user", "content": f"secret SECRET-{i}"},
            {"role": "assistant", "content": f"noted {i}"},
        ] * (i % 3)
        messages = [*history, {"role": "user", "content": f"turn {i} <<has:SECRET-{i - 1}>>"}]
        resp = await client.chat.completions.create(model="gpt-4o" if i % 2 else "o3", messages=messages)
        assert resp.choices[0].message.content == "no", f"turn {i} saw an earlier request's secret"
        (req,) = bridge.fake.find(f"turn {i} ")
        expected = [(m["role"], m["content"]) for m in messages]
        assert convo(req) == expected, f"turn {i}: upstream held more than the client's conversation"
        assert "local-command" not in json.dumps(req.body), "no /clear caveat blocks reach the model"
        pids.update(bridge.pool.pids())
    assert len(pids) == 1, "every turn was served by the same warm process"


async def test_system_prompt_profiles_get_their_own_slots(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2")
    client = bridge.client()
    for i, system in enumerate(["You are A.", "You are B.", "You are A.", None]):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": f"profile-{i} <<say:ok>>"}
        ]
        await client.chat.completions.create(model="gpt-4o", messages=messages)
        (req,) = bridge.fake.find(f"profile-{i}")
        if system:
            assert req.system_text().endswith(system)
            other = "You are B." if system == "You are A." else "You are A."
            assert other not in req.system_text()
        else:
            assert "You are" not in req.system_text().replace("You are a Claude agent", "")


async def test_processes_are_recycled_by_turn_quota_and_by_memory(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="1", TURNS_PER_SLOT="2")
    client = bridge.client()
    pids = []
    for i in range(4):
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"q{i}"}])
        assert await bridge.pool.wait_ready(20)
        pids.append(bridge.pool.pids()[0])
    assert pids[0] != pids[2] and bridge.pool.restarts >= 1, "a new process after two turns"
    small = await make_bridge(POOL_SIZE="1", WARM_CONVERSATIONS="1", MAX_SLOT_RSS_MB="50")
    (before,) = small.pool.pids()
    await small.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "m"}])
    assert await small.pool.wait_ready(20)
    assert small.pool.pids() != [before], "a process over the memory limit is replaced"
