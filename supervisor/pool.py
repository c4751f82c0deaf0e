"""Turns in, warm processes out: a FIFO wait queue in front of the seats, and who gets what.

Which idle process a turn takes is `supervisor.placement`'s choice (its own conversation first,
never someone else's while a free process or seat exists); when none can serve it, an empty
seat is filled or an idle process that cannot is replaced. After a turn the process holds its
conversation for the owner's next turn, or is rewound (or recycled) in the background, never on
the request path. The processes themselves are `supervisor.seats`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import attrs
import structlog

from supervisor import placement
from supervisor.conversation import resume_point
from supervisor.errors import PoolClosed, PoolUnavailable, QueueFull, QueueTimeout
from supervisor.launch import ClientTool
from supervisor.seats import PoolSettings, Seats, TransportFactory
from supervisor.slot import Slot, SlotState

__all__ = ["Pool", "PoolSettings", "TransportFactory"]

log = structlog.get_logger(__name__)

# How long a tool set counts as in use for the standby (one blank process ready per such set).
RECENT_TOOLS = 120.0
MAX_TOOL_STANDBYS = 8


@attrs.define(eq=False, repr=False)  # (its repr, with every key of the history, is costly)
class _Waiter:
    want: placement.Want
    future: asyncio.Future[Slot]
    provisioned: bool = False
    since: float = attrs.field(factory=time.monotonic)


class Pool(Seats):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: deque[_Waiter] = deque()
        self._wake: asyncio.TimerHandle | None = None
        # The last keys of conversations taken from their process: a request that continues one
        # is an agent that came back, and its next process is `returning` (see placement.steal).
        self._evicted: dict[str, None] = {}
        # Tool sets of the default profile's turns in the last RECENT_TOOLS seconds: when each
        # was last seen, and in how many turns (the standby serves those that recur).
        self._recent_tools: dict[frozenset[ClientTool], tuple[float, int]] = {}

    def _queue_depth(self) -> int:
        return sum(1 for w in self._waiters if not w.future.done())

    def queue_entries(self) -> int:
        """Every entry the queue still keeps, answered or not: 0 once nothing waits and nothing
        a gone client left behind remains."""
        return len(self._waiters)

    def _on_start_failed(self, error: str) -> None:
        """Lets waiting requests ask for a process again, or fail fast when none can start."""
        if self.unavailable:
            self._fail_waiters(PoolUnavailable(f"cannot start the Claude CLI: {error}"))
        for waiter in self._waiters:
            waiter.provisioned = False

    # -- lifecycle -----------------------------------------------------------------------

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

    # -- leasing -------------------------------------------------------------------------

    async def acquire(self, want: placement.Want) -> Slot:
        """A slot for this turn; `slot.resume` says how much of the turn's history it holds."""
        if self._closed:
            raise PoolClosed("the server is shutting down")
        if self.unavailable:
            # Try again now and then, so a fixed installation recovers by itself.
            self._kick_empty_seats(want.profile)
            raise PoolUnavailable(f"cannot start the Claude CLI: {self.last_start_error}")
        if len(self._waiters) >= self.settings.max_queue:
            raise QueueFull(retry_after=self._retry_after())
        if want.tools and want.profile == self.default_profile:
            _, seen = self._recent_tools.pop(want.tools, (0.0, 0))
            self._recent_tools[want.tools] = (time.monotonic(), seen + 1)
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

    def _retry_after(self) -> float:
        return max(1.0, min(30.0, self.settings.queue_timeout / 2))

    def _fail_waiters(self, exc: Exception) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done():
                waiter.future.set_exception(exc)
        self._waiters.clear()

    def _dispatch(self) -> None:
        """Hands idle processes to waiting turns, at most `size` running at once, and provisions
        what they lack.

        Served first: a turn that waited `aging`, then one whose conversation an idle process
        holds, then one whose tool set an idle process has (`placement.order`). A turn whose
        conversation is on a busy process waits up to `affinity_wait` for it. A turn that asked
        for a new process takes a fitting one that frees first; the new one then stays warm.
        """
        if self._closed:
            return
        for waiter in [w for w in self._waiters if w.future.done()]:
            self._waiters.remove(waiter)
        now = time.monotonic()
        waiters = list(self._waiters)
        busy = [s for s in self._seats if s is not None and s.state is SlotState.BUSY]
        capacity = self.settings.size - len(busy)
        # Provisioned waiters beyond the processes actually starting ask again (a start failed,
        # or the process they started went to someone else).
        started = sum(1 for s in self._seats if s is not None and s.state is SlotState.STARTING)
        starting = started
        for waiter in waiters:
            if waiter.provisioned:
                waiter.provisioned = starting > 0
                starting -= 1
        # Processes starting that no waiter asked for (the standby, of the default profile): a
        # waiter of that profile that needs a new process counts on one instead of starting another.
        unclaimed = max(0, starting)
        # Starts cost 0.5-1 s of CPU each: at most `size` at a time (a burst of new conversations
        # must not start dozens of processes at once).
        starts_left = self.settings.size - started
        wait_more: float | None = None

        def provision(waiter: _Waiter) -> None:
            """Gets `waiter` a process on its way: a starting standby nobody claimed (of the
            default profile), else a start in a free seat while starts are left."""
            nonlocal unclaimed, starts_left
            if unclaimed > 0 and waiter.want.profile == self.default_profile:
                waiter.provisioned, unclaimed = True, unclaimed - 1
            elif starts_left > 0 and self._fill_free_seat(waiter.want.profile):
                waiter.provisioned, starts_left = True, starts_left - 1

        for index in placement.order(waiters, self._idle_slots(), now, self.settings.aging):
            waiter = waiters[index]
            idle = self._idle_slots()
            choice = placement.pick(idle, waiter.want)
            own = choice is not None and choice.resume > 0
            if not own and placement.waits_for_own(waiter.want, busy, now - waiter.since, self.settings.affinity_wait):
                left = waiter.since + self.settings.affinity_wait - now
                wait_more = left if wait_more is None else min(wait_more, left)
                continue
            if capacity <= 0:
                # No turn may start now; a turn no idle process can serve gets a process started
                # in a free seat meanwhile, so it is ready when a turn ends.
                if choice is None and not waiter.provisioned:
                    provision(waiter)
                continue
            if choice is None and not waiter.provisioned:
                if self._resetting_fits(waiter.want):
                    continue  # a process that fits is rewinding (milliseconds): no start for that
                choice = placement.steal(idle, waiter.want, one_off=True)
                if choice is None and None in self._seats:
                    # A warm conversation is only taken when every seat is used; until a start
                    # may begin, the turn waits (for it, or for a process that frees).
                    provision(waiter)
                    continue
                choice = choice or placement.steal(idle, waiter.want)
            if choice is not None:
                self._give(waiter, choice)
                busy.append(choice.slot)  # type: ignore[arg-type]
                capacity -= 1
                continue
            if not waiter.provisioned:
                waiter.provisioned = self._replace_one(waiter.want)
        if wait_more is not None:
            # Look again when the first affinity wait runs out.
            if self._wake is not None:
                self._wake.cancel()
            self._wake = asyncio.get_running_loop().call_later(max(0.0, wait_more) + 0.001, self._dispatch)
        self._keep_standby()

    def forgot(self, slot: Slot) -> None:
        """Notes the conversation a process is about to lose (taken, released or replaced)."""
        held = slot.conversation
        if held is None or not held.lines:
            return
        if len(self._evicted) >= 4096:
            self._evicted.pop(next(iter(self._evicted)))
        self._evicted[held.lines[-1].key] = None

    def _resetting_fits(self, want: placement.Want) -> bool:
        return any(
            s is not None and s.state is SlotState.RESETTING and placement.compatible(s, want) for s in self._seats
        )

    def _give(self, waiter: _Waiter, choice: placement.Pick) -> None:
        slot = choice.slot
        assert isinstance(slot, Slot)
        if choice.steals:
            self.forgot(slot)
        slot.comes_back_blank = placement.comes_back_blank(slot, waiter.want)
        slot.resume = choice.resume
        slot.returning = choice.resume > 0 or any(key in self._evicted for key in waiter.want.keys[1:])
        slot.state = SlotState.BUSY
        slot.unpark()
        self._waiters.remove(waiter)
        waiter.future.set_result(slot)

    def hold(self, slot: Slot) -> bool:
        """Keeps a finished turn's conversation on its process for the owner's next turn (True),
        or gives the process back to be rewound (False).

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
            return False
        slot.last_used = time.monotonic()
        slot.state = SlotState.IDLE
        self._dispatch()
        return True

    def _replace_one(self, want: placement.Want) -> bool:
        """Starts a slot for `want` in place of an idle slot that cannot serve it."""
        victim = placement.victim(self._idle_slots(), want)
        if victim is None:
            return False
        assert isinstance(victim, Slot)
        return self._replace(victim, want.profile)

    def _keep_standby(self) -> None:
        """Keeps `standby` blank processes ready (see `supervisor.placement`), in the background."""
        if self._closed or self._waiters or not self.settings.standby or self.unavailable or self.memory_pressure:
            return
        profile = self.default_profile
        now = time.monotonic()
        for tools in [t for t, (seen, _) in self._recent_tools.items() if now - seen > RECENT_TOOLS]:
            del self._recent_tools[tools]
        if any(s is not None and s.state is SlotState.RESETTING for s in self._seats):
            return  # what is being rewound may be the standby: look again once it is done
        ready = [s for s in self._seats if s is not None and s.state in (SlotState.IDLE, SlotState.STARTING)]
        # A process running a one-question turn counts too: it is blank again once that turn
        # ends, and a standby refilled meanwhile would run beside that very turn (bench.bench).
        back = sum(1 for s in self._seats if s is not None and s.state is SlotState.BUSY and s.comes_back_blank)
        # Blank standbys beyond the first only in seats left free (they never cost a warm conversation).
        if placement.standby_shortfall(ready, profile, self.settings.standby, self._tool_sets_in_use()) <= back:
            return
        if self._fill_free_seat(profile):
            return
        if placement.standby_shortfall(ready, profile, self.settings.standby, ()) <= back:
            return
        victim = placement.standby_victim(self._idle_slots(), profile, now, self.settings.standby_after)
        if victim is not None:
            assert isinstance(victim, Slot)
            log.info("slot_recycled_for_standby", slot_id=victim.slot_id)
            self._replace(victim, profile)
            return
        lru = placement.reclaim_for_standby(self._idle_slots(), profile, now, self.settings.standby_after)
        if lru is not None:
            assert isinstance(lru, Slot)
            log.info("slot_cleared_for_standby", slot_id=lru.slot_id)
            self.forgot(lru)
            lru.state = SlotState.RESETTING
            self.background(self._forget(lru), name=f"standby-{lru.slot_id}")

    def _stays_awake(self, slot: Slot) -> bool:
        """The standby's blank processes are not parked: a parked one costs its next turn about
        15 ms to wake (measured with bench.bench), an awake blank one 3-10 ms of CPU a second."""
        if not placement.is_blank(slot, self.default_profile):
            return False
        awake = sum(
            1
            for s in self._idle_slots()
            if s is not slot and not s.parked and placement.is_blank(s, self.default_profile)
        )
        return awake < max(self.settings.standby, len(self._tool_sets_in_use()))

    def _tool_sets_in_use(self) -> list[frozenset[ClientTool]]:
        """The recent tool sets that recur (an app's), newest first, at most MAX_TOOL_STANDBYS: a
        client whose tools change with every request would otherwise have the pool start a
        process per request (measured: one-question requests with new tools each time went
        from ~530 to ~1400 ms on 2 cores)."""
        recurring = [t for t, (_, turns) in reversed(self._recent_tools.items()) if turns >= 2]
        return recurring[:MAX_TOOL_STANDBYS]

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

    def discard(self, slot: Slot) -> None:
        """A slot that misbehaved (timed out, ignored an interrupt): killed and replaced."""
        slot.kill_now()
        self.release(slot, healthy=False)


def _holds_slot(future: asyncio.Future[Slot]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
