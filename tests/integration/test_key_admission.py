"""Budgets held for queued requests, and KEY_CONCURRENCY: what a key may run when its turn gets a
process. The fake upstream's `<<delay:MS>>` keeps turns running while others queue."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import anthropic
import httpx
import pytest

from bridge.spend.budgets import fingerprint
from bridge.spend.estimate import CLI_DEFAULT_MAX_TOKENS
from tests.anthropic_client import client as anthropic_client
from tests.conftest import Bridge, MakeBridge
from tests.fake_upstream import Recorded
from tests.spend_keys import KEYS, prices, usage_of

USAGE = (1000, 100)  # what every turn here reports upstream: $0.003 at sonnet's $2/$10 per Mtok


def cost(bridge: Bridge) -> float:
    price_in, price_out = prices(bridge)
    return USAGE[0] * price_in + USAGE[1] * price_out


async def ask(bridge: Bridge, key: str, text: str, **body: Any) -> httpx.Response:
    async with bridge.http() as http:
        return await http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **body},
        )


def served(responses: list[httpx.Response]) -> list[httpx.Response]:
    assert all(r.status_code in (200, 429) for r in responses), [(r.status_code, r.text) for r in responses]
    return [r for r in responses if r.status_code == 200]


def refused_for_quota(responses: list[httpx.Response]) -> list[dict[str, Any]]:
    errors = [r.json()["error"] for r in responses if r.status_code == 429]
    assert all(e["type"] == e["code"] == "insufficient_quota" for e in errors), errors
    return errors


def upstream_turns(bridge: Bridge, marker: str) -> list[Recorded]:
    return sorted(bridge.fake.find(marker), key=lambda r: r.started)


async def test_queued_requests_are_refused_once_the_budget_is_crossed(make_bridge: MakeBridge, logs: Any) -> None:
    """The hostile run of issue 17: POOL_SIZE=2, 20 concurrent requests, a budget the first
    turn crosses. Every request passes the check on arrival (nothing is spent yet); those that
    get a process after the crossing are refused there, having spent nothing."""
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_BUDGETS="sk-beta=0.001/day")
    assert cost(bridge) > 0.001
    text = "crossed <<delay:400>><<usage:{}:{}:0:0>>".format(*USAGE)
    # max_tokens=1: each turn reserves about $0.00005, far below its real cost, so that what
    # stops the queue here is the crossing itself, not the reservations.
    responses = await asyncio.gather(*(ask(bridge, "sk-beta", f"{text} q{i}", max_tokens=1) for i in range(20)))
    ok = served(responses)
    errors = refused_for_quota(responses)
    turns = upstream_turns(bridge, "crossed")
    assert len(ok) == len(turns) <= 2, "only the turns running when the budget was crossed were served"
    assert len(errors) == 20 - len(ok)
    entry = (await usage_of(bridge, "sk-beta"))["data"][0]
    assert entry["day"]["requests"] == len(ok) and entry["day"]["cost_usd"] == pytest.approx(len(ok) * cost(bridge))
    lines = [e for e in logs if e["event"] == "request" and e.get("path") == "/v1/chat/completions"]
    assert sorted(e["status"] for e in lines) == sorted(r.status_code for r in responses)
    assert all(e["budget_left_usd"] > 0 for e in lines if e["status"] == 200)
    # Refused when they got their process: they waited in the queue first (the first turn runs
    # 400 ms), and were refused with the same body as a refusal on arrival.
    late = [e for e in lines if e["status"] == 429 and e["ms"] >= 300]
    assert late, "some requests were refused after waiting for a process"
    arrival = await ask(bridge, "sk-beta", "after")
    assert arrival.status_code == 429
    on_arrival = arrival.json()["error"]
    assert {k: v for k, v in on_arrival.items() if k != "message"} == {
        k: v for k, v in errors[0].items() if k != "message"
    }
    assert all(e["message"].startswith("You exceeded your current quota: this key's daily budget") for e in errors)
    assert on_arrival["message"].startswith("You exceeded your current quota: this key's daily budget")
    assert len(upstream_turns(bridge, "crossed")) == len(ok), "nothing refused reached the upstream"
    # The queue places were given up: another key is served at once by both processes.
    others = await asyncio.gather(*(ask(bridge, "sk-alpha", f"other {i} <<say:ok>>") for i in range(2)))
    assert [r.status_code for r in others] == [200, 200]


async def test_the_overshoot_is_at_most_the_turns_running_at_the_crossing(make_bridge: MakeBridge) -> None:
    """A budget of a few requests' cost: requests are served until the recorded spend crosses
    it; what it is overshot by is the turns running at that moment (POOL_SIZE at most)."""
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_BUDGETS=f"{fingerprint('sk-beta')}=0.01/month")
    each = cost(bridge)
    few = int(0.01 // each) + 1  # the turns it takes to cross the budget (4 at $0.003)
    text = "few <<delay:300>><<usage:{}:{}:0:0>>".format(*USAGE)
    responses = await asyncio.gather(*(ask(bridge, "sk-beta", f"{text} q{i}", max_tokens=1) for i in range(20)))
    ok = served(responses)
    refused_for_quota(responses)
    turns = upstream_turns(bridge, "few")
    assert len(turns) == len(ok)
    assert few <= len(ok) <= few + 2 - 1, f"{len(ok)} served: the budget needs {few}, and one more may be running"
    month = (await usage_of(bridge, "sk-beta"))["data"][0]["month"]
    assert month["requests"] == len(ok)
    overshoot = month["cost_usd"] - 0.01
    assert 0 < overshoot <= (len(ok) - few + 1) * each
    # Seen from the upstream: when the turn that crossed the budget ended, what was still running
    # is all that came after it.
    crossing = sorted(t.finished or 0 for t in turns)[few - 1]
    running = [t for t in turns if t.started < crossing < (t.finished or 0)]
    assert len(ok) - few <= len(running) + 1  # + 1: let in before the bridge heard the crossing turn end


async def test_running_turns_reserve_their_estimate(make_bridge: MakeBridge) -> None:
    """Without max_tokens a turn reserves what the CLI's default output cap would cost (128,000
    tokens: $1.28 at sonnet's price). On a $1 budget with nothing spent, a key's turns then run
    one at a time: the others wait for the running one's figure instead of being refused."""
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_BUDGETS="sk-beta=1/day")
    text = "reserve <<delay:300>><<usage:10:1:0:0>>"
    responses = await asyncio.gather(*(ask(bridge, "sk-beta", f"{text} q{i}") for i in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    turns = upstream_turns(bridge, "reserve")
    assert turns[0].body["max_tokens"] == CLI_DEFAULT_MAX_TOKENS, "the CLI's default cap (docs/cli-findings.md)"
    assert len(turns) == 3
    for earlier, later in itertools.pairwise(turns):
        assert later.started >= (earlier.finished or 0), "a turn started while another of the key was reserved"
    # With max_tokens the reservations are small, and the key's turns run side by side.
    capped = await asyncio.gather(
        *(ask(bridge, "sk-beta", f"capped <<delay:1000>> {i}", max_tokens=5) for i in range(2))
    )
    assert [r.status_code for r in capped] == [200, 200]
    first, second = upstream_turns(bridge, "capped")
    assert second.started < (first.finished or 0)


async def test_a_turn_waiting_on_reservations_gets_a_retryable_429_after_queue_timeout(
    make_bridge: MakeBridge,
) -> None:
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_BUDGETS="sk-beta=1/day", QUEUE_TIMEOUT="0.5")
    long = asyncio.create_task(ask(bridge, "sk-beta", "long <<delay:2000>><<usage:10:1:0:0>>"))
    while not bridge.fake.find("long"):
        await asyncio.sleep(0.02)
    waited = await ask(bridge, "sk-beta", "waits")
    assert waited.status_code == 429 and int(waited.headers["Retry-After"]) >= 1
    error = waited.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded"), error
    assert "reserved what is left of its budget" in error["message"]
    assert (await long).status_code == 200
    assert not bridge.fake.find("waits")


async def test_key_concurrency_runs_one_turn_of_a_key_at_a_time(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_CONCURRENCY="1")
    one = bridge.client(api_key="sk-alpha")
    a = [
        asyncio.create_task(
            one.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"key-a {i} <<delay:400>>"}]
            )
        )
        for i in range(5)
    ]
    while not bridge.fake.find("key-a"):
        await asyncio.sleep(0.02)
    b = await bridge.client(api_key="sk-beta").chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "key-b <<say:served>>"}]
    )
    assert b.choices[0].message.content == "served"
    b_done = bridge.fake.find("key-b")[0].finished or 0
    answers = await asyncio.gather(*a)
    assert all(r.choices[0].message.content for r in answers)
    turns = upstream_turns(bridge, "key-a")
    assert len(turns) == 5
    for earlier, later in itertools.pairwise(turns):
        assert later.started >= (earlier.finished or 0), "two turns of one key ran at once"
    assert sum(1 for t in turns if t.started > b_done) >= 2, "key B was served while key A's turns waited"


async def test_beyond_the_queue_a_key_gets_429_with_retry_after(make_bridge: MakeBridge) -> None:
    """KEY_CONCURRENCY=1 and MAX_QUEUE=1: one turn runs, one waits, the third is refused at once
    (a 429 the SDKs retry after Retry-After), and another key is not held up."""
    bridge = await make_bridge(**KEYS, POOL_SIZE="2", KEY_CONCURRENCY="1", MAX_QUEUE="1")
    first = asyncio.create_task(ask(bridge, "sk-alpha", "cap 1 <<delay:600>>"))
    while not bridge.fake.find("cap 1"):
        await asyncio.sleep(0.02)
    second = asyncio.create_task(ask(bridge, "sk-alpha", "cap 2 <<delay:10>>"))
    await asyncio.sleep(0.1)
    third = await ask(bridge, "sk-alpha", "cap 3")
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    error = third.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded"), error
    assert "this key already runs 1 turns at once" in error["message"]
    other = await bridge.client(api_key="sk-beta").chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "cap other <<say:ok>>"}]
    )
    assert other.choices[0].message.content == "ok"
    assert [(await t).status_code for t in (first, second)] == [200, 200]
    assert not bridge.fake.find("cap 3")


async def test_a_streamed_messages_request_refused_at_its_process_gets_anthropics_429(make_bridge: MakeBridge) -> None:
    """One process: B passes the check on arrival (A is still running), queues, and is refused
    when A's figure has crossed the budget and B gets the process: a 429 before any event."""
    bridge = await make_bridge(**KEYS, POOL_SIZE="1", KEY_BUDGETS="sk-beta=0.001/day")
    a = asyncio.create_task(ask(bridge, "sk-beta", "one <<delay:500>><<usage:{}:{}:0:0>>".format(*USAGE), max_tokens=1))
    while not bridge.fake.find("one"):
        await asyncio.sleep(0.02)
    an = anthropic_client(bridge, api_key="sk-beta")
    with pytest.raises(anthropic.RateLimitError) as refused:
        async with an.messages.stream(
            model="sonnet", max_tokens=1, messages=[{"role": "user", "content": "two <<say:no>>"}]
        ) as stream:
            await stream.get_final_message()
    assert (await a).status_code == 200
    assert refused.value.status_code == 429 and refused.value.type == "rate_limit_error"
    body: Any = refused.value.body
    assert body["type"] == "error" and body["error"]["message"].startswith("You exceeded your current quota")
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert not bridge.fake.find("two"), "nothing of B reached the upstream"
    assert (await usage_of(bridge, "sk-beta"))["data"][0]["day"]["requests"] == 1


async def test_on_redis_a_turn_queued_on_one_replica_sees_what_another_recorded(
    make_bridge: MakeBridge, redis_url: str
) -> None:
    """The recorded spend is shared: a request that queued on replica two while the key's turn
    ran on replica one is refused when it gets its process, once that turn's figure is stored."""
    key, other = f"sk-{uuid.uuid4().hex[:12]}", f"sk-{uuid.uuid4().hex[:12]}"
    env = {
        "API_KEYS": f"{key},{other}",
        "KEY_BUDGETS": f"{key}=0.001/day",
        "POOL_SIZE": "1",
        "HISTORY_STORAGE": "redis",
        "REDIS_URL": redis_url,
    }
    one, two = await make_bridge(**env), await make_bridge(**env)
    spend = asyncio.create_task(
        ask(one, key, "replica one <<delay:500>><<usage:{}:{}:0:0>>".format(*USAGE), max_tokens=1)
    )
    busy = asyncio.create_task(ask(two, other, "replica two busy <<delay:1500>>"))
    while not (one.fake.find("replica one") and two.fake.find("replica two busy")):
        await asyncio.sleep(0.02)
    queued = await ask(two, key, "replica two queued <<say:no>>", max_tokens=1)
    assert (await spend).status_code == 200 and (await busy).status_code == 200
    assert queued.status_code == 429 and queued.json()["error"]["code"] == "insufficient_quota"
    assert not two.fake.find("replica two queued")
