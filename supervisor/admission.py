"""Whose turn it is: a cap on the turns one tenant runs at once, and the caller's say at the
moment a turn gets its process.

The supervisor knows tenants only as opaque names and admission only as a callback: what a
tenant is (an API key) and why a turn may be refused (a spending budget) stay with the caller.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import attrs

from supervisor.errors import QueueFull, QueueTimeout

Release = Callable[[], None]
# Called once the turn holds its process. Raises to refuse the turn (the process goes back
# untouched and the exception reaches the caller); returns None for "not yet" (the process
# goes back, and the turn waits in `Ready` before it queues again); or returns what to call
# once the turn's process is settled (its Result heard, also that of an interrupt).
Admit = Callable[[], Awaitable[Release | None]]
# Called before the turn queues for a process: may wait until the caller would admit it
# (bounded by the caller), or raise to refuse it before it takes a queue place.
Ready = Callable[[], Awaitable[None]]


@attrs.frozen
class Admission:
    """Who a turn runs for (turns of one tenant share its cap; no tenant, no cap), and the
    caller's say on it."""

    tenant: str = ""
    admit: Admit | None = None
    ready: Ready | None = None


class TenantQueueFull(QueueFull):
    def __init__(self, cap: int, retry_after: float) -> None:
        super().__init__(retry_after)
        self.args = (f"this key already runs {cap} turns at once and has the most turns waiting it may queue",)


class TenantTimeout(QueueTimeout):
    def __init__(self, cap: int, waited: float, retry_after: float) -> None:
        super().__init__(waited, retry_after)
        self.args = (f"this key's turns (at most {cap} at once) left no place for this one within {waited:.1f}s",)


@attrs.define
class TenantCaps:
    """At most `cap` turns of one tenant run at once; up to `max_waiting` more wait in arrival
    order, each at most `timeout` seconds, before they queue for a process like any turn. A
    tenant's waiting turns are not in the pool's queue, so they never hold up another tenant's.
    `cap` 0: no cap."""

    cap: int
    max_waiting: int
    timeout: float
    _running: dict[str, int] = attrs.field(factory=dict)
    _waiting: dict[str, deque[asyncio.Future[None]]] = attrs.field(factory=dict)

    def running(self, tenant: str) -> int:
        return self._running.get(tenant, 0)

    async def enter(self, tenant: str) -> Release:
        """Waits for a place among the tenant's running turns; returns what gives it back."""
        if not self.cap:
            return _nothing
        waiting = self._waiting.setdefault(tenant, deque())
        if self.running(tenant) < self.cap and not waiting:
            return self._take(tenant)
        if len(waiting) >= self.max_waiting:
            self._forget(tenant)
            raise TenantQueueFull(self.cap, self._retry_after())
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(place)
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.shield(place)
        except TimeoutError:
            if not _granted(place):
                raise TenantTimeout(self.cap, self.timeout, self._retry_after()) from None
        except asyncio.CancelledError:
            if _granted(place):  # handed the place just as the caller gave up
                self._leave(tenant)
            raise
        finally:
            if place in waiting:
                waiting.remove(place)
            if not place.done():
                place.cancel()
            self._forget(tenant)
        return self._release_once(tenant)

    def _take(self, tenant: str) -> Release:
        self._running[tenant] = self.running(tenant) + 1
        return self._release_once(tenant)

    def _release_once(self, tenant: str) -> Release:
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._leave(tenant)

        return release

    def _leave(self, tenant: str) -> None:
        """The place goes to the tenant's first waiting turn, or is freed."""
        waiting = self._waiting.get(tenant)
        while waiting:
            place = waiting.popleft()
            if not place.done():
                place.set_result(None)  # the place passes on: the running count stays
                return
        self._running[tenant] = self.running(tenant) - 1
        if not self._running[tenant]:
            del self._running[tenant]
        self._forget(tenant)

    def _forget(self, tenant: str) -> None:
        if not self._waiting.get(tenant, True):
            del self._waiting[tenant]

    def _retry_after(self) -> float:
        return max(1.0, min(30.0, self.timeout / 2))


def _granted(place: asyncio.Future[None]) -> bool:
    return place.done() and not place.cancelled()


def _nothing() -> None:
    return None
