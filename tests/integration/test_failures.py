"""Upstream failures, retries, timeouts, disconnects and crashed processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import openai
import pytest

from supervisor.slot import SlotState
from tests.conftest import Bridge
from tests.openapi import sse_payloads


async def test_upstream_401_is_a_clear_error_and_not_retried(bridge: Bridge) -> None:
    client = bridge.client()
    with pytest.raises(openai.APIStatusError) as info:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<error:401>>"}])
    assert info.value.status_code == 502
    body = info.value.body
    assert isinstance(body, dict)
    assert body["code"] == "upstream_authentication_failed"
    assert "credentials" in body["message"]
    assert len(bridge.fake.find("<<error:401>>")) == 1, "authentication failures are never retried"


async def test_upstream_400_is_not_retried(bridge: Bridge) -> None:
    client = bridge.client()
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<error:400>>"}])
    # The CLI itself re-sends a 400 once or twice while dropping optional betas; the
    # supervisor adds no attempt of its own.
    assert len(bridge.fake.find("<<error:400>>")) <= 3


async def test_flaky_529_is_retried_until_it_answers(bridge: Bridge) -> None:
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<flaky:529:2>> <<say:third time lucky>>"}]
    )
    assert resp.choices[0].message.content == "third time lucky"
    assert len(bridge.fake.find("<<flaky:529:2>>")) == 3


async def test_retries_stop_at_max_retries(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(MAX_RETRIES="1", POOL_SIZE="1")
    client = bridge.client()
    with pytest.raises(openai.APIStatusError) as info:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<error:529>>"}])
    assert info.value.status_code == 503
    assert len(bridge.fake.find("<<error:529>>")) == 2


async def test_upstream_429_maps_to_429(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(MAX_RETRIES="0", POOL_SIZE="1")
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<error:429>>"}]}
        )
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(resp.headers["retry-after"]) >= 1


async def test_timeout_is_504_and_the_process_is_replaced(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(REQUEST_TIMEOUT="2", POOL_SIZE="1")
    (old_pid,) = bridge.pool.pids()
    async with bridge.http() as http:
        started = time.monotonic()
        resp = await http.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<hang>>"}]}
        )
        elapsed = time.monotonic() - started
    assert resp.status_code == 504
    assert resp.json()["error"]["type"] == "timeout"
    assert elapsed < 6
    assert await bridge.pool.wait_ready(20)
    assert bridge.pool.pids() != [old_pid]
    assert bridge.pool.restarts >= 1
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)


async def test_error_after_the_stream_started_is_an_error_event(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(REQUEST_TIMEOUT="2", POOL_SIZE="1")
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "<<hangafter:2>>"}]},
        )
    assert resp.status_code == 200
    payloads = sse_payloads(resp.content)
    assert payloads[-1] != "[DONE]"
    last = json.loads(payloads[-1])
    assert last["error"]["type"] == "timeout"
    assert set(last["error"]) == {"message", "type", "param", "code"}
    text = "".join(
        json.loads(p)["choices"][0]["delta"].get("content") or "" for p in payloads[:-1] if json.loads(p).get("choices")
    )
    assert text == "w1 w2"


async def test_openai_client_raises_on_error_event(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(REQUEST_TIMEOUT="2", POOL_SIZE="1")
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "<<hangafter:1>>"}]
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


async def test_client_disconnect_cancels_the_upstream_within_a_second(bridge: Bridge) -> None:
    client = bridge.client()
    stream = await client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "<<hangafter:2>>"}]
    )
    got = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got.append(chunk.choices[0].delta.content)
        if len(got) == 2:
            break
    closed_at = time.monotonic()
    await stream.close()
    (req,) = bridge.fake.find("<<hangafter:2>>")
    for _ in range(100):
        if req.disconnected is not None:
            break
        await asyncio.sleep(0.02)
    assert req.disconnected is not None, "the upstream request is still running"
    assert req.disconnected - closed_at < 1.0
    # The slot survives: it was interrupted and rewound, not killed.
    assert await bridge.pool.wait_ready(10)
    resp = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<say:again>>"}])
    assert resp.choices[0].message.content == "again"
    (after,) = bridge.fake.find("<<say:again>>")
    assert "hangafter" not in json.dumps(after.messages), "the interrupted turn left nothing behind"


async def test_non_streamed_disconnect_also_cancels(bridge: Bridge) -> None:
    async def call() -> None:
        async with bridge.http() as http:
            await http.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<hang>> ns"}]},
            )

    task = asyncio.create_task(call())
    for _ in range(200):
        if bridge.fake.find("<<hang>> ns"):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    closed_at = time.monotonic()
    (req,) = bridge.fake.find("<<hang>> ns")
    for _ in range(100):
        if req.disconnected is not None:
            break
        await asyncio.sleep(0.02)
    assert req.disconnected is not None and req.disconnected - closed_at < 1.0


async def test_a_killed_process_is_retried_on_a_fresh_one(bridge: Bridge) -> None:
    client = bridge.client()
    task = asyncio.create_task(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "<<hangfirst>> <<say:ok>>"}]
        )
    )
    busy = None
    for _ in range(200):
        busy = next((s for s in bridge.pool.slots() if s.state is SlotState.BUSY), None)
        if busy and bridge.fake.find("<<hangfirst>>"):
            break
        await asyncio.sleep(0.02)
    assert busy is not None and busy.pid is not None
    os.kill(busy.pid, signal.SIGKILL)
    resp = await asyncio.wait_for(task, 20)
    assert resp.choices[0].message.content == "ok"
    assert await bridge.pool.wait_ready(20)
    assert bridge.pool.restarts >= 1
