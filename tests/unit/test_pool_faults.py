"""Pool behaviour under faults the real CLI cannot be made to show on demand.

These tests use a hand-written stand-in transport (not the real CLI): it answers `initialize`,
can fail to start, and can exit while idle. Everything else in the suite uses the real CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from supervisor import seats as seats_module
from supervisor.errors import QueueTimeout
from supervisor.launch import ClientTool, LaunchProfile, LaunchSettings
from supervisor.placement import Want
from supervisor.pool import Pool, PoolSettings
from supervisor.slot import SlotState
from tests.standin_transport import StandInTransport


@pytest.fixture
def make_pool(tmp_path: Path):  # type: ignore[no-untyped-def]  # each test closes its own pool
    StandInTransport.fail_starts = 0
    StandInTransport.start_delay = 0.0
    StandInTransport.instances = []

    def make(**settings: Any) -> Pool:
        launch = LaunchSettings(command="stand-in", request_timeout=5, workdir=tmp_path / "slots")
        pool = Pool(PoolSettings(**settings), launch, transport_factory=StandInTransport)
        return pool

    return make


async def test_a_failed_start_does_not_strand_the_waiter(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(size=1, queue_timeout=5.0)
    await pool.start()
    assert await pool.wait_ready(5)
    StandInTransport.fail_starts = 1  # the slot started for the new profile fails once
    other = LaunchProfile(json_schema='{"type":"object"}')
    slot = await asyncio.wait_for(pool.acquire(Want(other)), 4)
    assert slot.state is SlotState.BUSY and slot.profile == other
    await pool.close(grace=0)


async def test_a_directory_failure_is_a_start_failure_not_an_orphaned_waiter(make_pool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(size=1, queue_timeout=0.5)
    await pool.start()
    assert await pool.wait_ready(5)
    real = seats_module.prepare_slot_dir
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(seats_module, "prepare_slot_dir", flaky)
    with pytest.raises(QueueTimeout):
        await pool.acquire(Want(LaunchProfile(tools=("WebFetch",))))
    assert "No space left" in (pool.last_start_error or "")
    # Nothing is left holding a slot: the next request is served.
    slot = await asyncio.wait_for(pool.acquire(Want(LaunchProfile(tools=("WebFetch",)))), 5)
    assert slot.state is SlotState.BUSY
    assert pool.stats()["busy"] == 1
    await pool.close(grace=0)


async def test_a_process_that_exits_while_idle_is_replaced(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(size=1)
    await pool.start()
    assert await pool.wait_ready(5)
    StandInTransport.instances[0].exit()
    for _ in range(100):
        if pool.restarts and await pool.wait_ready(0.05):
            break
        await asyncio.sleep(0.05)
    assert pool.restarts == 1 and pool.stats()["warm"] == 1
    await pool.close(grace=0)


async def test_turns_at_once_are_bounded_by_size_not_by_processes(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(size=1, warm=3, standby=0, park_after=-1)
    await pool.start()
    try:
        assert await pool.wait_ready(5)
        first = await pool.acquire(Want(LaunchProfile()))
        second = asyncio.create_task(pool.acquire(Want(LaunchProfile())))
        await asyncio.sleep(0.3)
        assert not second.done() and pool.stats()["queue_depth"] == 1 and pool.stats()["busy"] == 1
        pool.release(first)
        got = await asyncio.wait_for(second, 5)
        assert got.state is SlotState.BUSY and pool.stats()["busy"] == 1
        pool.release(got)
    finally:
        await pool.close(grace=1)


async def test_a_request_waiting_for_a_new_process_takes_a_fitting_one_that_frees_first(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(size=2, warm=3, standby=0, park_after=-1)
    await pool.start()
    try:
        assert await pool.wait_ready(5)
        tainted = await pool.acquire(Want(LaunchProfile()))
        blank = await pool.acquire(Want(LaunchProfile()))
        tainted.sticky = frozenset({ClientTool("other", "o", "{}")})
        StandInTransport.start_delay = 2.0
        wants = Want(LaunchProfile(), tools=frozenset({ClientTool("mine", "m", "{}")}))
        waiting = asyncio.create_task(pool.acquire(wants))
        await asyncio.sleep(0.2)
        assert pool.stats()["starting"] == 1, "a process was started for it"
        pool.release(blank)
        got = await asyncio.wait_for(waiting, 1.5)
        assert got is blank, "it took the fitting process that freed before its own had started"
        assert pool.stats()["starting"] == 1, "the new process goes on starting, for whoever comes next"
        pool.release(got)
        pool.release(tainted)
    finally:
        await pool.close(grace=1)
