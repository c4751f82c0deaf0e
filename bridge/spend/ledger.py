"""Per-key spend in the store, added atomically, and the meter one request reports through.

Every turn's Result adds its spend through `store.update` (a per-record lock for files, an
optimistic transaction for Redis, a single step on the event loop for memory), so concurrent
requests of one key, also on several replicas, lose nothing. The update runs beside the answer,
not before it (an atomic file write with its fsync costs the answer ~4 ms, measured); whoever
reads a key's spend (the budget check, /v1/usage) waits for that key's updates still under way,
so a budget is never checked against a stale figure on this replica. A turn cut short is added
when the CLI confirms the interrupt, shortly after its response; a store that fails loses that
figure (logged), never the client's answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import attrs
import structlog

from bridge.spend.figures import Spend, add_spend, turn_spend
from bridge.storage.base import Record, Store, StoreError
from supervisor.events import Result

log = structlog.get_logger(__name__)
KIND = "usage"
UPSTREAM_KIND = "upstream_usage"  # spend per upstream account that served the turns
Listener = Callable[[str, Spend, int], None]


class Ledger:
    """Additions of one key are written by one task at a time: what arrives while a write is
    under way goes into the next write, as one update applying each addition with its own time
    (so a batch across midnight still lands in the right day). Under load this turns n file
    writes into a few (each costs the bridge ~1 ms of CPU, measured)."""

    def __init__(self, store: Store, listener: Listener | None = None, kind: str = KIND) -> None:
        self._store = store
        self._kind = kind
        self._listener = listener  # the metrics, told at once
        self._queued: dict[str, list[tuple[Spend, int, float]]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def record(self, key: str, spend: Spend, requests: int) -> asyncio.Task[None]:
        """Returns the task that writes this addition (awaiting it waits until it is stored)."""
        if self._listener is not None:
            self._listener(key, spend, requests)
        self._queued.setdefault(key, []).append((spend, requests, time.time()))
        writer = self._writers.get(key)
        # A writer that is done but whose callback has not run yet takes nothing more.
        return writer if writer is not None and not writer.done() else self._start_writer(key)

    def _start_writer(self, key: str) -> asyncio.Task[None]:
        writer = self._writers[key] = asyncio.create_task(self._write(key), name=f"usage-{key}")

        def done(task: asyncio.Task[None]) -> None:
            # Also for a writer cancelled before it ran (shutdown): the key must never keep a
            # finished writer. What a cancelled writer left queued is reported by `drain`.
            if not task.cancelled() and task.exception() is not None:
                log.error("usage_writer_failed", key=key, error=repr(task.exception()))
            if self._writers.get(key) is task:
                del self._writers[key]
                if self._queued.get(key) and not task.cancelled() and not self._closing:
                    self._start_writer(key)

        writer.add_done_callback(done)
        return writer

    async def _write(self, key: str) -> None:
        while batch := self._queued.pop(key, None):
            await self._add(key, batch)

    async def _settled(self, key: str | None = None) -> None:
        """Waits for the writes under way (of one key, or of all). A cancelled reader stops
        waiting; the writes go on (`asyncio.wait` does not cancel what it waits for)."""
        while True:
            tasks = [t for k, t in self._writers.items() if key in (None, k)]
            if not tasks:
                return
            await asyncio.wait(tasks)

    async def _add(self, key: str, batch: list[tuple[Spend, int, float]]) -> None:
        def apply(record: Record | None) -> Record | None:
            for spend, requests, at in batch:
                record = add_spend(record, key, spend, requests, at)
            return record

        try:
            await self._store.update(self._kind, key, apply)
        except StoreError as exc:
            _not_recorded(key, batch, str(exc))

    def writing(self, key: str) -> asyncio.Task[None] | None:
        """The task storing the key's additions recorded so far (None: all are stored)."""
        writer = self._writers.get(key)
        return writer if writer is not None and not writer.done() else None

    async def get(self, key: str) -> Record | None:
        await self._settled(key)
        return await self._store.get(self._kind, key)

    async def all(self) -> list[Record]:
        await self._settled()
        return await self._store.list(self._kind)

    async def drain(self) -> None:
        """Waits for every pending addition (before the store closes); what a writer could not
        take (it was cancelled) is logged as not recorded."""
        await self._settled()
        self._closing = True
        for key, batch in self._queued.items():
            _not_recorded(key, batch, "shut down")
        self._queued.clear()


def _not_recorded(key: str, batch: list[tuple[Spend, int, float]], error: str) -> None:
    cost = sum(spend.cost_usd for spend, _, _ in batch)
    log.warning("usage_not_recorded", key=key, cost_usd=cost, additions=len(batch), error=error)


@attrs.define
class Meter:
    """One request's turns: each Result the CLI gives adds to the key; the first also counts the request."""

    ledger: Ledger
    key: str
    _counted: bool = False
    _cost: float = 0.0

    def on_result(self, result: Result) -> None:
        spend = turn_spend(result.raw)
        if not spend.reported:
            log.warning("cli_reported_no_turn_cost", key=self.key)
        requests = 0 if self._counted else 1
        self._counted = True
        self.ledger.record(self.key, spend, requests)
        self._cost += spend.cost_usd
        structlog.contextvars.bind_contextvars(cost_usd=round(self._cost, 6))
