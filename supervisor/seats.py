"""The process side of the pool: seats, and the CLI processes in them from start to end.

At most `size` processes exist, one per seat. A process is started in the background, watched
while it lives (an exit while idle fills its seat again; a held conversation nobody continued
is forgotten after `hold_ttl`), and replaced or retired when it misbehaves, passes its quotas or
is needed for something else. Start failures back off exponentially; after a few in a row with
nothing alive the pool is `unavailable`. Which turn gets which process is `supervisor.pool`'s
business (with `supervisor.placement`); it is told through `_dispatch` whenever a process
becomes free.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs
import structlog

from supervisor.launch import (
    DEFAULT_PROFILE,
    LaunchProfile,
    LaunchSettings,
    build_argv,
    build_env,
    prepare_slot_dir,
)
from supervisor.memory import memory_low
from supervisor.slot import Slot, SlotState
from supervisor.transport import SubprocessTransport, Transport

log = structlog.get_logger(__name__)
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

TransportFactory = Callable[[list[str], dict[str, str], str], Transport]


@attrs.frozen
class PoolSettings:
    size: int = 4  # turns that run at once
    warm: int = 0  # processes, each holding one conversation (0: `size`); never below `size`
    max_queue: int = 32
    queue_timeout: float = 30.0
    start_timeout: float = 30.0
    turns_per_slot: int = 200
    max_slot_rss_mb: int = 450
    start_failures_before_unavailable: int = 3
    start_backoff_max: float = 30.0
    hold_ttl: float = 1800.0  # an idle held conversation nobody continued is forgotten after this
    standby: int = 1  # blank processes kept ready for turns no other process can serve
    standby_after: float = 2.0  # seconds unused before a process may be replaced by a blank one
    park_after: float = 1.0  # seconds idle before a process is stopped (SIGSTOP); negative: never
    affinity_wait: float = 1.0  # seconds a turn waits for its own busy process before taking another
    aging: float = 2.0  # seconds after which a waiting turn is served in arrival order, before affinity

    @property
    def processes(self) -> int:
        return max(self.size, self.warm)


class Seats:
    def __init__(
        self,
        settings: PoolSettings,
        launch: LaunchSettings,
        transport_factory: TransportFactory = SubprocessTransport,
        default_profile: LaunchProfile = DEFAULT_PROFILE,
    ) -> None:
        self.default_profile = default_profile
        self.settings = settings
        self.launch = launch
        self._factory = transport_factory
        self._seats: list[Slot | None] = [None] * settings.processes
        self._tasks: set[asyncio.Task[Any]] = set()
        # Every slot whose process may still exist, seated or on its way out.
        self._live: set[Slot] = set()
        self._ids = itertools.count(1)
        self._closed = False
        self._start_failures = 0
        self._next_start_at = 0.0
        self.last_start_error: str | None = None
        self.restarts = 0
        self.cli_models: list[dict[str, object]] = []
        self.cli_account: dict[str, Any] | None = None  # from the newest slot's initialize
        self.released_for_memory = 0
        self._memory_checked = 0.0
        self.memory_pressure = False  # no standby is started while memory is short

    # -- what the leasing side is told -----------------------------------------------------

    def _dispatch(self) -> None:
        """A process became free (or could not start): hand it out."""

    def _keep_standby(self) -> None:
        """Called now and then, to keep blank processes ready."""

    def _on_start_failed(self, error: str) -> None:
        """A process could not start."""

    def _queue_depth(self) -> int:
        return 0

    def _stays_awake(self, slot: Slot) -> bool:
        """An idle process that is not parked (the standby)."""
        return False

    def forgot(self, slot: Slot) -> None:
        """A process is about to lose the conversation it holds."""

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        Path(self.launch.workdir).mkdir(parents=True, exist_ok=True)
        # `size` processes at boot; the other warm seats fill as conversations come.
        for seat in range(self.settings.size):
            self._spawn(seat, self.default_profile)
        self.background(self._upkeep(), name="upkeep")

    async def wait_ready(self, timeout: float) -> bool:
        """True once `size` processes are idle, none is starting and none is being retired (tests
        and benchmarks wait for this)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            seated = [s for s in self._seats if s is not None]
            if (
                len(seated) >= self.settings.size
                and all(s.state is SlotState.IDLE for s in seated)
                and self._live.issubset(seated)  # nothing on its way out
            ):
                return True
            await asyncio.sleep(0.02)
        return False

    def background(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Runs upkeep that must outlive the request that caused it; cancelled on close."""
        # A fresh context: upkeep must not log under the request id of whoever triggered it.
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pool_task_failed", task=task.get_name(), error=repr(task.exception()))

    # -- spawning ------------------------------------------------------------------------

    def _spawn(self, seat: int, profile: LaunchProfile) -> Slot | None:
        slot_id = f"s{next(self._ids)}"
        try:
            paths = prepare_slot_dir(self.launch, slot_id, profile)
        except OSError as exc:  # disk full, permissions: a start failure like any other
            self._start_failed(f"cannot prepare the slot directory: {exc}")
            return None
        argv = build_argv(self.launch, paths.system_prompt_file, profile)
        env = build_env(self.launch, paths.home, paths.tmp)
        slot = Slot(slot_id, profile, self._factory(argv, env, str(paths.cwd)))
        self._seats[seat] = slot
        self._live.add(slot)
        self.background(self._start_slot(seat, slot, paths.base), name=f"start-{slot_id}")
        return slot

    async def _start_slot(self, seat: int, slot: Slot, base: Path) -> None:
        delay = self._next_start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.perf_counter()
        try:
            await slot.start(self.settings.start_timeout)
        except Exception as exc:  # noqa: BLE001 - any start failure is reported the same way
            detail = slot.exit_info.stderr_tail[-300:] if slot.exit_info else ""
            await self._close_slot(slot)
            _remove_tree(base)
            if self._seats[seat] is slot:
                self._seats[seat] = None
            self._start_failed(f"{type(exc).__name__}: {exc} {detail}".strip(), slot.slot_id)
            if not self._closed and not self._queue_depth() and not self.unavailable:
                self._spawn(seat, slot.profile)
            self._dispatch()
            return
        if not slot.alive:  # answered initialize, then exited: not ready after all
            self._start_failed(f"the CLI exited right after starting: {slot.exit_info}", slot.slot_id)
            await self._retire(seat, slot, base, replace=not self.unavailable)
            return
        self._start_failures = 0
        self.cli_models = slot.models or self.cli_models
        self.cli_account = slot.account if slot.account is not None else self.cli_account
        log.info(
            "slot_ready",
            slot_id=slot.slot_id,
            pid=slot.pid,
            ms=round((time.perf_counter() - t0) * 1000),
        )
        self.background(self._watch(seat, slot, base), name=f"watch-{slot.slot_id}")
        self._dispatch()

    async def _watch(self, seat: int, slot: Slot, base: Path) -> None:
        """Notices a process that died while it was seated, and fills its seat again."""
        await slot.ended()
        if self._seats[seat] is slot:
            await self._retire(seat, slot, base, replace=True)

    async def _upkeep(self) -> None:
        """Twice a second, for the whole pool: the standby, memory pressure, parking, and held
        conversations nobody continued within `hold_ttl` (forgotten). One loop for all seats:
        a loop per process doing pool-wide work cost an idle bridge with 48 warm processes
        ~6 ms of CPU a second more (measured)."""
        while not self._closed:
            await asyncio.sleep(0.5)
            self._keep_standby()
            self._relieve_memory()
            now = time.monotonic()
            for slot in [s for s in self._seats if s is not None and s.state is SlotState.IDLE]:
                if (
                    not slot.parked
                    and 0 <= self.settings.park_after <= now - slot.last_used
                    and not self._stays_awake(slot)
                ):
                    slot.park()
                if slot.conversation is not None and now - slot.last_used > self.settings.hold_ttl:
                    slot.state = SlotState.RESETTING
                    self.background(self._forget(slot), name=f"forget-{slot.slot_id}")

    async def _retire(self, seat: int, slot: Slot, base: Path | None = None, *, replace: bool) -> None:
        if self._seats[seat] is slot:
            self._seats[seat] = None
        await self._close_slot(slot)
        _remove_tree(base or self.launch.workdir / slot.slot_id)
        if replace and not self._closed:
            self.restarts += 1
            if self._seats[seat] is None:  # (the standby may have refilled it meanwhile)
                self._spawn(seat, self._profile_for_refill(slot.profile))
        self._dispatch()

    async def _close_slot(self, slot: Slot) -> None:
        await slot.close()
        self._live.discard(slot)

    def _profile_for_refill(self, previous: LaunchProfile) -> LaunchProfile:
        if not any(s and s.profile == self.default_profile and s.alive for s in self._seats):
            return self.default_profile
        return previous

    @property
    def unavailable(self) -> bool:
        live = any(s is not None and s.alive and s.state is not SlotState.STARTING for s in self._seats)
        return not live and self._start_failures >= self.settings.start_failures_before_unavailable

    def _start_failed(self, error: str, slot_id: str = "") -> None:
        """Backs off, reports, and lets waiting requests ask for a slot again (or fail fast)."""
        self.last_start_error = error
        self._start_failures += 1
        backoff = min(self.settings.start_backoff_max, 0.5 * 2 ** (self._start_failures - 1))
        self._next_start_at = time.monotonic() + backoff
        log.error("slot_start_failed", slot_id=slot_id, error=error, backoff=backoff)
        self._on_start_failed(error)

    def _kick_empty_seats(self, profile: LaunchProfile) -> None:
        if time.monotonic() < self._next_start_at:
            return
        for seat, slot in enumerate(self._seats):
            if slot is None:
                self._spawn(seat, profile)
                return

    def _idle_slots(self) -> list[Slot]:
        return [s for s in self._seats if s is not None and s.state is SlotState.IDLE]

    def _fill_free_seat(self, profile: LaunchProfile) -> bool:
        for seat, slot in enumerate(self._seats):
            if slot is None:
                return self._spawn(seat, profile) is not None
        return False

    def _replace(self, victim: Slot, profile: LaunchProfile) -> bool:
        self.forgot(victim)
        seat = self._seats.index(victim)
        victim.state = SlotState.DEAD
        self._seats[seat] = None
        self.background(self._close_slot(victim), name=f"replace-{victim.slot_id}")
        _remove_tree_later(self, self.launch.workdir / victim.slot_id)
        return self._spawn(seat, profile) is not None

    async def _forget(self, slot: Slot) -> None:
        """Rewinds a held conversation nobody is running (the slot is RESETTING meanwhile)."""
        if await slot.clear() and not self._closed and slot in self._seats:
            slot.state = SlotState.IDLE
            self._dispatch()
        else:
            seat = next((i for i, s in enumerate(self._seats) if s is slot), None)
            if seat is not None:
                await self._retire(seat, slot, replace=True)

    def _relieve_memory(self) -> None:
        """Under memory pressure (less than LOW_MEMORY_SHARE of the machine's memory available),
        an idle process beyond `size` is ended (`release_lru`: a blank one, else the least
        recently used conversation, whose owner's next turn replays it). At most one a second."""
        now = time.monotonic()
        if now - self._memory_checked < 1.0:
            return
        self._memory_checked = now
        self.memory_pressure = memory_low()
        if self.memory_pressure:
            self.release_lru("memory_pressure")

    def release_lru(self, reason: str) -> Slot | None:
        """Ends an idle process while more than `size` are seated: one holding nothing, else the
        least recently used conversation."""
        seated = [s for s in self._seats if s is not None]
        idle = self._idle_slots()
        if len(seated) <= self.settings.size or not idle:
            return None
        # One holding nothing first (nothing is lost), then the least recently used conversation.
        victim = min(idle, key=lambda s: (s.conversation is not None, s.last_used))
        self.forgot(victim)
        seat = self._seats.index(victim)
        victim.state = SlotState.DEAD
        self._seats[seat] = None
        self.released_for_memory += 1
        log.info("slot_released", slot_id=victim.slot_id, reason=reason, held=victim.conversation is not None)
        self.background(self._close_slot(victim), name=f"release-{victim.slot_id}")
        _remove_tree_later(self, self.launch.workdir / victim.slot_id)
        return victim

    def _over_memory(self, slot: Slot) -> bool:
        """A process's memory grows with use and a rewind gives none back: recycle past the limit."""
        try:  # statm's second field: resident pages (one short line; `status` is 1.5 KB to parse)
            rss_kb = int(Path(f"/proc/{slot.pid}/statm").read_bytes().split()[1]) * _PAGE_KB
        except (OSError, IndexError, ValueError):
            return False
        if rss_kb > self.settings.max_slot_rss_mb * 1024:
            log.info("slot_recycled_for_memory", slot_id=slot.slot_id, rss_mb=rss_kb // 1024)
            return True
        return False

    # -- reporting -----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        counts = {state.value: 0 for state in SlotState}
        for slot in self._seats:
            if slot is not None:
                counts[slot.state.value] += 1
        return {
            "size": self.settings.size,
            "warm_limit": self.settings.processes,
            "released_for_memory": self.released_for_memory,
            "parked": sum(1 for s in self._seats if s is not None and s.parked),
            "warm": counts["idle"],
            "busy": counts["busy"],
            "resetting": counts["resetting"],
            "starting": counts["starting"],
            "queue_depth": self._queue_depth(),
            "restarts": self.restarts,
        }

    def pids(self) -> list[int]:
        return [s.pid for s in self._seats if s is not None and s.pid is not None]

    def slots(self) -> list[Slot]:
        """The processes kept now, in seat order (what each holds and its state, for operators
        and tests; the pool alone decides who gets one)."""
        return [s for s in self._seats if s is not None]


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _remove_tree_later(seats: Seats, path: Path) -> None:
    async def later() -> None:
        await asyncio.sleep(2.0)
        _remove_tree(path)

    seats.background(later(), name="rm-slot-dir")
