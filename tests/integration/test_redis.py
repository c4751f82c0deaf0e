"""The same storage behaviour on a real redis-server, and two replicas sharing it."""

from __future__ import annotations

import asyncio
import uuid

from bridge.storage.base import CorruptRecord
from bridge.storage.redis_store import RedisStore
from tests.fake_upstream import block_text


async def test_redis_store_operations(redis_url: str) -> None:
    store = RedisStore(redis_url, ttl_seconds=60, prefix=f"t{uuid.uuid4().hex[:6]}")
    await store.put("k", "a", {"id": "a", "created_at": 1, "n": 0})
    assert await store.get("k", "a") == {"id": "a", "created_at": 1, "n": 0}

    async def bump() -> None:
        await store.update("k", "a", lambda r: {**(r or {}), "n": (r or {}).get("n", 0) + 1})

    await asyncio.gather(*(bump() for _ in range(20)))
    assert (await store.get("k", "a"))["n"] == 20  # type: ignore[index]
    assert [r["id"] for r in await store.list("k")] == ["a"]
    await store._client.set(store._key("k", "bad"), "{not json")
    try:
        await store.get("k", "bad")
    except CorruptRecord as exc:
        assert "bad" in str(exc)
    else:
        raise AssertionError("a corrupt record must be reported")
    assert await store.delete("k", "a") and not await store.delete("k", "a")
    await store.close()


async def test_sessions_on_redis_with_ttls(make_bridge, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2", HISTORY_STORAGE="redis", REDIS_URL=redis_url, HISTORY_TTL_HOURS="1")
    client = bridge.client()
    sid = f"sess_{uuid.uuid4().hex[:10]}"
    await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "word PLUM"}], extra_body={"session_id": sid}
    )
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<has:PLUM>>"}], extra_body={"session_id": sid}
    )
    assert resp.choices[0].message.content == "yes"
    store = RedisStore(redis_url, None)
    ttl = await store._client.ttl(store._key("sessions", sid))
    assert 3500 < ttl <= 3600, "every write refreshes the TTL"
    await store.close()
    await asyncio.gather(
        *(
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"p{i}"}], extra_body={"session_id": sid}
            )
            for i in range(8)
        )
    )
    async with bridge.http() as http:
        assert (await http.get(f"/v1/sessions/{sid}")).json()["message_count"] == 4 + 16


async def test_two_replicas_share_one_conversation(make_bridge, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {"POOL_SIZE": "1", "HISTORY_STORAGE": "redis", "REDIS_URL": redis_url}
    one, two = await make_bridge(**env), await make_bridge(**env)
    sid = f"sess_{uuid.uuid4().hex[:10]}"
    clients = [one.client(), two.client()]
    for i in range(4):
        await clients[i % 2].chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"turn-{i} <<say:ans-{i}>>"}],
            extra_body={"session_id": sid},
        )
    (last,) = one.fake.find("turn-3")
    seen = [block_text(m["content"]) for m in last.messages if m["role"] != "system"]
    assert seen == [
        "turn-0 <<say:ans-0>>",
        "ans-0",
        "turn-1 <<say:ans-1>>",
        "ans-1",
        "turn-2 <<say:ans-2>>",
        "ans-2",
        "turn-3 <<say:ans-3>>",
    ]
    async with one.http() as http:
        assert (await http.get(f"/v1/sessions/{sid}")).json()["message_count"] == 8


async def test_replicas_on_redis_share_the_reasoning_key(make_bridge, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    """The generated REASONING_KEY lives in the store, without a TTL: what one replica sealed opens on another."""
    from tests.codex_requests import first_turn, second_turn, stream

    env = {"POOL_SIZE": "1", "HISTORY_STORAGE": "redis", "REDIS_URL": redis_url, "HISTORY_TTL_HOURS": "1"}
    first = await make_bridge(**env)
    output, call = await first_turn(first)
    other = await make_bridge(**env)
    _, second = await stream(other, second_turn(output, call))
    assert second["output_text"] == "after-tool: a.txt"
    store = RedisStore(redis_url, ttl_seconds=3600)
    assert await store._client.ttl(store._key("secrets", "reasoning-key")) == -1, "the key never expires"
    await store.close()
