"""KEY_BUDGETS held also for queued requests: a key's budget is checked when a request arrives
and again when each of its turns gets its process, then against the key's recorded spend plus
what its running turns have reserved.

A running turn reserves its estimate (`bridge.spend.estimate`) from the moment it gets its
process until the CLI's exact figure for it is stored in the ledger; the figure, not the
estimate, is what the key spent. A turn gets its process only while recorded spend plus the
reservations of the key's running turns are under the budget, so the only overshoot left is
what the turns already running cost beyond that. A key whose recorded spend has reached its
budget is refused (429 `insufficient_quota`, which clients do not retry); a key whose running
turns have only reserved what is left waits for them to end (up to QUEUE_TIMEOUT, then a 429
with Retry-After): an estimate alone never refuses a key for good. Reservations are this
replica's: on several replicas sharing Redis, each counts its own running turns against the
shared recorded spend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import attrs
import structlog

from bridge.errors import InsufficientQuota, RateLimited
from bridge.spend.budgets import Budgets, report
from bridge.spend.ledger import Ledger
from supervisor.admission import Admission, Release

ADJECTIVE = {"day": "daily", "month": "monthly"}
SO_FAR = {"day": "today", "month": "this month"}
REREADS = 3  # a read that straddled a reservation's release is read again, this many times at most


def refusal(over: dict[str, Any]) -> InsufficientQuota:
    """The same 429 `insufficient_quota` at arrival and when a turn gets its process."""
    return InsufficientQuota(
        f"You exceeded your current quota: this key's {ADJECTIVE[over['period']]} budget of ${over['limit_usd']:g} "
        f"is used up (${over['spent_usd']:.4f} spent {SO_FAR[over['period']]}, UTC)."
        " Ask the operator to raise KEY_BUDGETS."
    )


@attrs.define
class BudgetGuard:
    ledger: Ledger
    budgets: Budgets
    on_refused: Callable[[str], None] = lambda account: None  # the metrics
    wait: float = 30.0  # QUEUE_TIMEOUT: how long a turn waits for the key's running turns to end
    _reserved: dict[str, float] = attrs.field(factory=dict)
    _freed: dict[str, int] = attrs.field(factory=dict)  # how many reservations each key gave back
    _changed: dict[str, asyncio.Event] = attrs.field(factory=dict)  # set when one is given back

    def applies(self, account: str) -> bool:
        return "*" in self.budgets or account in self.budgets

    def reserved(self, account: str) -> float:
        return self._reserved.get(account, 0.0)

    async def check(self, account: str) -> None:
        """On arrival: raises the 429 when the key's recorded spend has reached a budget."""
        if self.applies(account):
            self._verdict(account, await self._read(account))

    def admission(self, account: str, tenant: str, estimate: Callable[[], float]) -> Admission:
        """What a turn of this key asks before it queues and when it gets its process."""
        if not self.applies(account):
            return Admission(tenant)

        async def ready() -> None:
            loop = asyncio.get_running_loop()
            end = loop.time() + self.wait
            while True:
                if not self.reserved(account):
                    return  # nothing to wait for (and no store read): `admit` checks the spend
                changed = self._changed.setdefault(account, asyncio.Event())
                if self._verdict(account, await self._read(account)):
                    return
                try:
                    async with asyncio.timeout(end - loop.time()):
                        await changed.wait()
                except TimeoutError:
                    raise RateLimited(
                        f"This key's running turns have reserved what is left of its budget, and none ended within "
                        f"{self.wait:g}s; try again shortly.",
                        max(1.0, min(30.0, self.wait / 2)),
                    ) from None

        async def admit() -> Release | None:
            if not self._verdict(account, await self._read(account)):
                return None  # not yet: `ready` waits for a running turn to end
            return self._reserve(account, estimate())  # nothing awaits between the check and this

        return Admission(tenant, admit=admit, ready=ready)

    async def _read(self, account: str) -> dict[str, Any] | None:
        for _ in range(REREADS):
            freed = self._freed.get(account, 0)
            record = await self.ledger.get(account)
            if self._freed.get(account, 0) == freed:
                break  # no reservation was given back while reading: none is counted in neither
        return record

    def _verdict(self, account: str, record: dict[str, Any] | None) -> bool:
        """Raises the 429 when the recorded spend has reached a budget; False when it has not
        but the reservations of the key's running turns fill the rest."""
        now, reserved = time.time(), self.reserved(account)
        recorded = report(self.budgets, account, record, now)
        over = next((b for b in recorded if b["exceeded"]), None)
        # In the request's log line: what the key had left, its running turns' reservations
        # deducted, when this turn was let in (or refused).
        left = min((b["remaining_usd"] for b in recorded), default=0.0) - reserved
        structlog.contextvars.bind_contextvars(budget_left_usd=round(left, 8))
        if over is not None:
            self.on_refused(account)
            raise refusal(over)
        return reserved == 0 or left > 0

    def _reserve(self, account: str, amount: float) -> Release:
        self._reserved[account] = self.reserved(account) + amount
        done = False

        def settle() -> None:
            """The turn is over: the reservation goes once the CLI's figure for it is stored."""
            nonlocal done
            if done:
                return
            done = True
            writer = self.ledger.writing(account)
            if writer is None:
                self._free(account, amount)
            else:
                writer.add_done_callback(lambda _: self._free(account, amount))

        return settle

    def _free(self, account: str, amount: float) -> None:
        left = self.reserved(account) - amount
        if left > 1e-12:
            self._reserved[account] = left
        else:
            self._reserved.pop(account, None)
        self._freed[account] = self._freed.get(account, 0) + 1
        changed = self._changed.pop(account, None)
        if changed is not None:
            changed.set()
