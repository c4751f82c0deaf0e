"""A bounded set of warm slots, a FIFO wait queue in front of them, and their upkeep.

At most `size` CLI processes exist at any time, one per seat. Which idle slot a request takes
is `supervisor.placement`'s choice (its own conversation first, never someone else's while a
free slot or seat exists); when no slot can serve it, an empty seat is filled or an idle slot
that cannot is replaced. After a turn the slot holds its conversation for the owner's next
turn, or is rewound (or recycled) in the background, never on the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs
import structlog

from supervisor import placement
from supervisor.conversation import resume_point
from supervisor.errors import PoolClosed, PoolUnavailable, QueueFull, QueueTimeout
from supervisor.launch import (
    DEFAULT_PROFILE,
    LaunchProfile,
    LaunchSettings,
    build_argv,
    build_env,
    prepare_slot_dir,
)
from supervisor.slot import Slot, SlotState
from supervisor.transport import SubprocessTransport, Transport

log = structlog.get_logger(__name__)
SESSION_NAMESPACE = "session:"  # the owner prefix of stored sessions (see bridge.routes.turns)

TransportFactory = Callable[[list[str], dict[str, str], str], Transport]


@attrs.frozen
class PoolSettings:
    size: int = 4
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


@attrs.define(eq=False)
class _Waiter:
    want: placement.Want
    future: asyncio.Future[Slot]
    provisioned: bool = False


class Pool:
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
        self._seats: list[Slot | None] = [None] * settings.size
        self._waiters: deque[_Waiter] = deque()
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
        self._profile_seen: dict[LaunchProfile, float] = {default_profile: time.monotonic()}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        Path(self.launch.workdir).mkdir(parents=True, exist_ok=True)
        for seat in range(self.settings.size):
            self._spawn(seat, self.default_profile)

    async def wait_ready(self, timeout: float) -> bool:
        """True once every seat holds an idle slot (tests and benchmarks wait for this)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            if all(s is not None and s.state is SlotState.IDLE for s in self._seats):
                return True
            await asyncio.sleep(0.02)
        return False

    async def close(self, grace: float = 10.0) -> None:
        """Stops taking turns, lets running ones finish within `grace`, then kills the rest."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(PoolClosed("the server is shutting down"))
        self._waiters.clear()
        loop = asyncio.get_running_loop()
        end = loop.time() + grace
        while loop.time() < end and any(s and s.state is SlotState.BUSY for s in self._seats):
            await asyncio.sleep(0.05)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in list(self._live)), return_exceptions=True)
        self._live.clear()
        self._seats = [None] * self.settings.size

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
            if not self._closed and not self._waiters and not self.unavailable:
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
        """Notices a process that died while idle (and fills its seat again), and forgets held
        conversations nobody continued within `hold_ttl`."""
        while slot.alive:
            await asyncio.sleep(0.5)
            self._keep_standby()
            if (
                slot.state is SlotState.IDLE
                and slot.conversation is not None
                and time.monotonic() - slot.last_used > self.settings.hold_ttl
            ):
                slot.state = SlotState.RESETTING
                await self._forget(slot)
        if self._seats[seat] is slot:
            await self._retire(seat, slot, base, replace=True)

    async def _retire(self, seat: int, slot: Slot, base: Path | None = None, *, replace: bool) -> None:
        if self._seats[seat] is slot:
            self._seats[seat] = None
        await self._close_slot(slot)
        _remove_tree(base or self.launch.workdir / slot.slot_id)
        if replace and not self._closed and self._seats[seat] is None:
            self.restarts += 1
            self._spawn(seat, self._profile_for_refill(slot.profile))
        self._dispatch()

    async def _close_slot(self, slot: Slot) -> None:
        await slot.close()
        self._live.discard(slot)

    def _profile_for_refill(self, previous: LaunchProfile) -> LaunchProfile:
        if not any(s and s.profile == self.default_profile and s.alive for s in self._seats):
            return self.default_profile
        return previous

    # -- leasing -------------------------------------------------------------------------

    @property
    def unavailable(self) -> bool:
        live = any(s is not None and s.alive and s.state is not SlotState.STARTING for s in self._seats)
        return not live and self._start_failures >= self.settings.start_failures_before_unavailable

    async def acquire(self, want: placement.Want) -> Slot:
        """A slot for this turn; `slot.resume` says how much of the turn's history it holds."""
        if self._closed:
            raise PoolClosed("the server is shutting down")
        if self.unavailable:
            # Try again now and then, so a fixed installation recovers by itself.
            self._kick_empty_seats(want.profile)
            raise PoolUnavailable(f"cannot start the Claude CLI: {self.last_start_error}")
        self._profile_seen[want.profile] = time.monotonic()
        if len(self._profile_seen) > 256:  # remember recent profiles only
            for old in sorted(self._profile_seen, key=self._profile_seen.__getitem__)[:64]:
                del self._profile_seen[old]
        if len(self._waiters) >= self.settings.max_queue:
            raise QueueFull(retry_after=self._retry_after())
        waiter = _Waiter(want, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            self._dispatch()
            async with asyncio.timeout(self.settings.queue_timeout):
                return await asyncio.shield(waiter.future)
        except TimeoutError:
            if _holds_slot(waiter.future):
                return waiter.future.result()
            raise QueueTimeout(self.settings.queue_timeout, self._retry_after()) from None
        except asyncio.CancelledError:
            if _holds_slot(waiter.future):  # handed a slot just as the caller gave up
                self.release(waiter.future.result())
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if not waiter.future.done():
                waiter.future.cancel()

    def _start_failed(self, error: str, slot_id: str = "") -> None:
        """Backs off, reports, and lets waiting requests ask for a slot again (or fail fast)."""
        self.last_start_error = error
        self._start_failures += 1
        backoff = min(self.settings.start_backoff_max, 0.5 * 2 ** (self._start_failures - 1))
        self._next_start_at = time.monotonic() + backoff
        log.error("slot_start_failed", slot_id=slot_id, error=error, backoff=backoff)
        if self.unavailable:
            self._fail_waiters(PoolUnavailable(f"cannot start the Claude CLI: {error}"))
        for waiter in self._waiters:
            waiter.provisioned = False

    def _kick_empty_seats(self, profile: LaunchProfile) -> None:
        if time.monotonic() < self._next_start_at:
            return
        for seat, slot in enumerate(self._seats):
            if slot is None:
                self._spawn(seat, profile)
                return

    def _retry_after(self) -> float:
        return max(1.0, min(30.0, self.settings.queue_timeout / 2))

    def _fail_waiters(self, exc: Exception) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done():
                waiter.future.set_exception(exc)
        self._waiters.clear()

    def _dispatch(self) -> None:
        """Hands idle slots to waiters in arrival order and provisions what they lack."""
        if self._closed:
            return
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
                continue
            idle = self._idle_slots()
            choice = placement.pick(idle, waiter.want)
            if choice is None and not waiter.provisioned:
                if self._fill_free_seat(waiter.want.profile):
                    waiter.provisioned = True
                    continue
                choice = placement.steal(idle, waiter.want)
            if choice is not None:
                slot = choice.slot
                assert isinstance(slot, Slot)
                slot.resume = choice.resume
                slot.state = SlotState.BUSY
                self._waiters.remove(waiter)
                waiter.future.set_result(slot)
                continue
            if not waiter.provisioned:
                waiter.provisioned = self._replace_one(waiter.want)
        self._keep_standby()

    def _idle_slots(self) -> list[Slot]:
        return [s for s in self._seats if s is not None and s.state is SlotState.IDLE]

    def hold(self, slot: Slot) -> None:
        """Keeps a finished turn's conversation on its process for the owner's next turn.

        Only a healthy process under its quotas is kept, and only a conversation a rewind can
        remove again.
        """
        conversation = slot.conversation
        if (
            slot not in self._seats
            or self._closed
            or self.settings.hold_ttl <= 0
            or not slot.alive
            or conversation is None
            or resume_point(conversation, 0) != 0
            or slot.turns_served >= self.settings.turns_per_slot
            or self._over_memory(slot)
        ):
            self.release(slot)
            return
        slot.last_used = time.monotonic()
        slot.state = SlotState.IDLE
        self._dispatch()
        self._keep_one_empty(slot)

    def _keep_one_empty(self, kept: Slot) -> None:
        """Rewinds, in the background, an older held one-exchange stateless conversation when
        every idle process holds one, so the next new conversation does not wait for a rewind.
        Replaying such a conversation costs about what the rewind does, so holding it has little
        value; the one just kept, longer ones and sessions (which say they will continue) are
        never touched here."""
        idle = self._idle_slots()
        if self._waiters or not idle or any(not placement.holds(s) for s in idle):
            return
        cheap = [
            s for s in idle if s is not kept and s.conversation is not None and placement.exchanges(s.conversation) <= 1
        ]
        if not cheap:
            return
        slot = min(cheap, key=lambda s: s.last_used)
        slot.state = SlotState.RESETTING
        self.background(self._forget(slot), name=f"forget-{slot.slot_id}")

    async def _forget(self, slot: Slot) -> None:
        if await slot.clear() and not self._closed and slot in self._seats:
            slot.state = SlotState.IDLE
            self._dispatch()
        else:
            seat = next((i for i, s in enumerate(self._seats) if s is slot), None)
            if seat is not None:
                await self._retire(seat, slot, replace=True)

    def _fill_free_seat(self, profile: LaunchProfile) -> bool:
        for seat, slot in enumerate(self._seats):
            if slot is None:
                return self._spawn(seat, profile) is not None
        return False

    def _replace_one(self, want: placement.Want) -> bool:
        """Starts a slot for `want` in place of an idle slot that cannot serve it."""
        victim = placement.victim(self._idle_slots(), want)
        if victim is None:
            return False
        assert isinstance(victim, Slot)
        return self._replace(victim, want.profile)

    def _keep_standby(self) -> None:
        """Keeps `standby` blank processes ready (see `supervisor.placement`), in the background."""
        if self._closed or self._waiters or not self.settings.standby or self.unavailable:
            return
        profile = self.default_profile
        ready = sum(
            1
            for s in self._seats
            if s is not None and s.state in (SlotState.IDLE, SlotState.STARTING) and placement.is_blank(s, profile)
        )
        if ready >= self.settings.standby or self._fill_free_seat(profile):
            return
        victim = placement.standby_victim(self._idle_slots(), profile, time.monotonic(), self.settings.standby_after)
        if victim is not None:
            assert isinstance(victim, Slot)
            log.info("slot_recycled_for_standby", slot_id=victim.slot_id)
            self._replace(victim, profile)

    def _replace(self, victim: Slot, profile: LaunchProfile) -> bool:
        seat = self._seats.index(victim)
        victim.state = SlotState.DEAD
        self._seats[seat] = None
        self.background(self._close_slot(victim), name=f"replace-{victim.slot_id}")
        _remove_tree_later(self, self.launch.workdir / victim.slot_id)
        return self._spawn(seat, profile) is not None

    def release(self, slot: Slot, *, healthy: bool = True) -> None:
        """Gives a slot back after a turn: rewound in the background, or replaced."""
        self.background(self._recover(slot, healthy), name=f"recover-{slot.slot_id}")

    async def _recover(self, slot: Slot, healthy: bool) -> None:
        seat = next((i for i, s in enumerate(self._seats) if s is slot), None)
        if seat is None:
            await self._close_slot(slot)
            return
        if not slot.alive:
            await self._retire(seat, slot, replace=True)
            return
        slot.state = SlotState.RESETTING
        ok = (
            healthy
            and slot.alive
            and slot.turns_served < self.settings.turns_per_slot
            and not self._over_memory(slot)
            and await slot.reset()
        )
        if ok and not self._closed:
            slot.state = SlotState.IDLE
            self._dispatch()
            return
        await self._retire(seat, slot, replace=True)

    def _over_memory(self, slot: Slot) -> bool:
        """A process's memory grows with use and a rewind gives none back: recycle past the limit."""
        try:
            status = Path(f"/proc/{slot.pid}/status").read_text()
        except OSError:
            return False
        rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        if rss_kb > self.settings.max_slot_rss_mb * 1024:
            log.info("slot_recycled_for_memory", slot_id=slot.slot_id, rss_mb=rss_kb // 1024)
            return True
        return False

    def discard(self, slot: Slot) -> None:
        """A slot that misbehaved (timed out, ignored an interrupt): killed and replaced."""
        slot.kill_now()
        self.release(slot, healthy=False)

    # -- reporting -----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        counts = {state.value: 0 for state in SlotState}
        for slot in self._seats:
            if slot is not None:
                counts[slot.state.value] += 1
        return {
            "size": self.settings.size,
            "warm": counts["idle"],
            "busy": counts["busy"],
            "resetting": counts["resetting"],
            "starting": counts["starting"],
            "queue_depth": sum(1 for w in self._waiters if not w.future.done()),
            "restarts": self.restarts,
        }

    def pids(self) -> list[int]:
        return [s.pid for s in self._seats if s is not None and s.pid is not None]


def _holds_slot(future: asyncio.Future[Slot]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _remove_tree_later(pool: Pool, path: Path) -> None:
    async def later() -> None:
        await asyncio.sleep(2.0)
        _remove_tree(path)

    pool.background(later(), name="rm-slot-dir")
