"""Spend per API key: /v1/usage and /metrics against the CLI's own figures, budgets, admin view,
and the store's atomic additions on files, Redis and memory."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from bridge.spend.budgets import fingerprint
from bridge.spend.figures import Spend
from bridge.spend.ledger import KIND, Ledger
from bridge.storage.base import Store
from bridge.storage.files import FileStore
from bridge.storage.memory import MemoryStore
from bridge.storage.redis_store import RedisStore
from tests.anthropic_client import client as anthropic_client
from tests.conftest import Bridge, MakeBridge
from tests.spend_keys import KEYS, prices, usage_of


async def one_run_of_each_api(bridge: Bridge, key: str) -> int:
    """Turns through all three APIs, streamed and not, n=2 and a tool call; returns the request count."""
    oa = bridge.client(api_key=key)
    an = anthropic_client(bridge, api_key=key)
    await oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<usage:100:10:0:0>>"}])
    stream = await oa.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "<<words:3>><<usage:200:20:0:0>>"}]
    )
    [c async for c in stream]
    await oa.chat.completions.create(
        model="gpt-4o", n=2, messages=[{"role": "user", "content": "<<usage:300:30:0:0>>"}]
    )
    await oa.chat.completions.create(
        model="gpt-4o",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
        messages=[{"role": "user", "content": "<<tool:mcp__c__f:{}>><<usage:350:35:0:0>>"}],
    )
    await oa.responses.create(model="gpt-4o", input="<<usage:400:40:0:0>>")
    events = await oa.responses.create(model="gpt-4o", input="<<usage:500:50:0:0>>", stream=True)
    [e async for e in events]
    await an.messages.create(
        model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "<<usage:600:60:0:0>>"}]
    )
    async with an.messages.stream(
        model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "<<words:2>><<usage:700:70:0:0>>"}]
    ) as ms:
        await ms.get_final_message()
    return 8


async def test_usage_sums_match_the_clis_figures_over_a_run(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS)
    requests = await one_run_of_each_api(bridge, "sk-alpha")
    upstream = [r.usage for r in bridge.fake.messages_requests()]
    assert len(upstream) == 9 and all(u is not None for u in upstream), "n=2 is two upstream turns"
    price_in, price_out = prices(bridge)
    expected_in = sum(u["input_tokens"] for u in upstream if u)
    expected_out = sum(u["output_tokens"] for u in upstream if u)
    (entry,) = (await usage_of(bridge, "sk-alpha"))["data"]
    assert entry["key"] == fingerprint("sk-alpha")
    total = entry["total"]
    assert total["requests"] == requests
    assert (total["input_tokens"], total["output_tokens"]) == (expected_in, expected_out)
    assert total["cost_usd"] == pytest.approx(expected_in * price_in + expected_out * price_out, rel=1e-9)
    assert entry["day"]["cost_usd"] == pytest.approx(total["cost_usd"]) and entry["day"]["requests"] == requests
    assert entry["month"]["input_tokens"] == expected_in
    assert entry["budgets"] == []
    async with bridge.http() as http:
        metrics = (await http.get("/metrics")).text
    fp = fingerprint("sk-alpha")
    assert f'bridge_key_requests_total{{key="{fp}"}} {float(requests)}' in metrics
    assert f'bridge_key_tokens_total{{key="{fp}",kind="input"}} {float(expected_in)}' in metrics
    cost = re.search(rf'bridge_key_cost_usd_total\{{key="{fp}"\}} ([\d.e-]+)', metrics)
    assert cost and float(cost[1]) == pytest.approx(total["cost_usd"])
    assert "sk-alpha" not in metrics


async def test_a_turn_cut_short_is_added_when_the_cli_confirms(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS)
    an = anthropic_client(bridge, api_key="sk-beta")
    message = await an.messages.create(
        model="sonnet",
        max_tokens=50,
        stop_sequences=["w3"],
        messages=[{"role": "user", "content": "<<words:40>><<gap:20>><<usage:250:0:0:0>>"}],
    )
    assert message.stop_reason == "stop_sequence"
    deadline = time.monotonic() + 10
    while True:
        total = (await usage_of(bridge, "sk-beta"))["data"][0]["total"]
        if total["requests"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    # The interrupt's Result carries what the CLI counted for the turn: its prompt and the text it saw.
    assert total["requests"] == 1 and total["input_tokens"] == 250
    assert total["output_tokens"] > 0 and total["cost_usd"] > 250 * prices(bridge)[0]


async def test_a_key_over_its_budget_gets_429_and_spends_nothing(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS, KEY_BUDGETS="sk-beta=0.0005/day,*=100/month")
    rich, poor = bridge.client(api_key="sk-alpha"), bridge.client(api_key="sk-beta").with_options(max_retries=2)
    await poor.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<usage:1000:100:0:0>>"}])
    before = len(bridge.fake.requests)
    with pytest.raises(openai.RateLimitError) as chat:
        await poor.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "more"}])
    with pytest.raises(openai.RateLimitError) as responses:
        await poor.responses.create(model="gpt-4o", input="more")
    with pytest.raises(anthropic.RateLimitError) as messages:
        await (
            anthropic_client(bridge, api_key="sk-beta")
            .with_options(max_retries=2)
            .messages.create(model="sonnet", max_tokens=5, messages=[{"role": "user", "content": "more"}])
        )
    for err in (chat.value, responses.value):
        assert err.status_code == 429 and err.code == "insufficient_quota" and err.type == "insufficient_quota"
        assert err.body["message"].startswith("You exceeded your current quota")  # type: ignore[index]
    assert messages.value.status_code == 429 and messages.value.type == "rate_limit_error"
    assert len(bridge.fake.requests) == before, "nothing went upstream"
    async with bridge.http() as http:
        metrics = (await http.get("/metrics")).text
    # x-should-retry: false kept both SDKs (max_retries=2) from asking again.
    assert f'bridge_budget_rejections_total{{key="{fingerprint("sk-beta")}"}} 3.0' in metrics
    assert 'route="/v1/chat/completions",status="429"} 1.0' in metrics
    (entry,) = (await usage_of(bridge, "sk-beta"))["data"]
    day = next(b for b in entry["budgets"] if b["period"] == "day")
    assert day["exceeded"] and day["limit_usd"] == 0.0005 and day["remaining_usd"] == 0
    assert {b["period"] for b in entry["budgets"]} == {"day", "month"}, "'*' completes a key's own budgets"
    await rich.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "other key <<say:ok>>"}])


async def test_a_zero_budget_refuses_from_the_first_request(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS, KEY_BUDGETS=f"{fingerprint('sk-alpha')}=0/month")
    with pytest.raises(openai.RateLimitError):
        await bridge.client(api_key="sk-alpha").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert not bridge.fake.requests


async def test_a_key_sees_its_own_usage_and_an_admin_sees_every_key(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(**KEYS)
    for key in ("sk-alpha", "sk-beta"):
        await bridge.client(api_key=key).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "<<usage:10:1:0:0>>"}]
        )
    own = await usage_of(bridge, "sk-alpha")
    assert not own["admin"] and [e["key"] for e in own["data"]] == [fingerprint("sk-alpha")]
    admin = await usage_of(bridge, "sk-admin")
    assert admin["admin"]
    assert sorted(e["key"] for e in admin["data"]) == sorted([fingerprint("sk-alpha"), fingerprint("sk-beta")])
    assert all(e["total"]["requests"] == 1 for e in admin["data"])
    one = await usage_of(bridge, "sk-admin", key=fingerprint("sk-beta"))
    assert [e["key"] for e in one["data"]] == [fingerprint("sk-beta")]
    async with bridge.http() as http:
        body = (await http.get("/v1/usage", headers={"Authorization": "Bearer sk-admin"})).text
        other = await http.get(
            "/v1/usage", params={"key": fingerprint("sk-beta")}, headers={"Authorization": "Bearer sk-alpha"}
        )
    assert "sk-alpha" not in body and "sk-beta" not in body, "keys are shown by fingerprint only"
    assert other.status_code == 403


async def test_without_api_keys_the_spend_is_anonymous(bridge: Bridge) -> None:
    await bridge.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<usage:5:1:0:0>>"}]
    )
    (entry,) = (await usage_of(bridge, "unused"))["data"]
    assert entry["key"] == "anonymous" and entry["total"]["input_tokens"] == 5


@pytest.fixture(params=["file", "redis", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    made: Store
    if request.param == "file":
        made = FileStore(tmp_path / "store")
    elif request.param == "memory":
        made = MemoryStore()
    else:
        made = RedisStore(request.getfixturevalue("redis_url"), 1, prefix=f"t{time.time_ns()}", keep=(KIND,))
    yield request.param, made
    await made.close()


async def test_concurrent_additions_lose_nothing(store: tuple[str, Store]) -> None:
    kind, backend = store
    seen: list[tuple[str, Spend, int]] = []
    ledger = Ledger(backend, lambda key, spend, requests: seen.append((key, spend, requests)))
    writes: list[str] = []
    update = backend.update

    async def counted(kind: str, record_id: str, change: Any) -> Any:
        writes.append(record_id)
        return await update(kind, record_id, change)

    backend.update = counted  # type: ignore[method-assign]
    spend = Spend(input_tokens=3, output_tokens=2, cache_read_input_tokens=1, cost_usd=0.25)
    await asyncio.gather(*(ledger.record("key_00000000aa", spend, i % 2) for i in range(40)))
    await ledger.drain()
    record = await ledger.get("key_00000000aa")
    assert record is not None
    assert record["total"]["input_tokens"] == 120 and record["total"]["requests"] == 20
    assert record["total"]["cost_usd"] == pytest.approx(10.0)
    assert record["day"] == {"period": record["day"]["period"], **record["total"]}
    assert len(seen) == 40
    assert len(writes) < 40  # what arrived during a write went into the next one
    if kind == "redis":
        await asyncio.sleep(1.2)  # past the sessions' TTL of 1 s: spend records never expire
        assert await ledger.get("key_00000000aa") is not None


async def test_replicas_adding_to_one_key_lose_nothing(store: tuple[str, Store]) -> None:
    """Several ledgers on one store (replicas sharing Redis, or files) update one record at once."""
    _, backend = store
    ledgers = [Ledger(backend) for _ in range(4)]
    spend = Spend(input_tokens=1, output_tokens=1, cost_usd=0.5)

    async def replica(ledger: Ledger) -> None:
        for _ in range(10):
            await ledger.record("key_00000000bb", spend, 1)

    await asyncio.gather(*(replica(ledger) for ledger in ledgers))
    record = await ledgers[0].get("key_00000000bb")
    assert record is not None
    assert record["total"]["requests"] == 40 and record["total"]["cost_usd"] == pytest.approx(20.0)


async def test_a_cancelled_reader_never_cancels_the_write(tmp_path: Path) -> None:
    """A budget check or /v1/usage cancelled while it waits for a key's write (a client gone,
    shutdown) leaves the write to finish."""
    store = FileStore(tmp_path / "store")
    ledger = Ledger(store)
    ledger.record("key_00000000cc", Spend(input_tokens=1, cost_usd=0.5), 1)
    reader = asyncio.create_task(ledger.get("key_00000000cc"))
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await ledger.drain()
    record = await store.get(KIND, "key_00000000cc")
    assert record is not None and record["total"]["cost_usd"] == pytest.approx(0.5)


async def test_a_writer_cancelled_before_it_ran_leaves_the_key_writable(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    ledger = Ledger(store)
    ledger.record("key_00000000dd", Spend(cost_usd=1.0), 1).cancel()
    await asyncio.sleep(0)
    await asyncio.wait_for(ledger.record("key_00000000dd", Spend(cost_usd=2.0), 1), 10)
    record = await asyncio.wait_for(ledger.get("key_00000000dd"), 10)
    assert record is not None
    assert record["total"]["requests"] == 2 and record["total"]["cost_usd"] == pytest.approx(3.0)
