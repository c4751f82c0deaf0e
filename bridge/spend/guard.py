"""KEY_BUDGETS held also for queued requests: a key's budget is checked when a request arrives
and again when each of its turns gets its process, against the key's recorded spend plus what
its running turns have reserved.

A running turn reserves its estimate (`bridge.spend.estimate`) from the moment it gets its
process until the CLI's exact figure for it is stored in the ledger; the figure, not the
estimate, is what the key spent. A key is refused once recorded spend plus reservations reach
its budget, so the only overshoot left is what turns already running cost beyond their
reservations. Reservations are this replica's: on several replicas sharing Redis, each counts
its own running turns against the shared recorded spend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import structlog

from bridge.errors import InsufficientQuota
from bridge.spend.budgets import Budgets, report
from bridge.spend.figures import Spend, add_spend
from bridge.spend.ledger import Ledger
from supervisor.admission import Admit, Release

ADJECTIVE = {"day": "daily", "month": "monthly"}
SO_FAR = {"day": "today", "month": "this month"}
REREADS = 3  # a read that straddled a reservation's release is read again, this many times at most


def refusal(over: dict[str, Any], reserved: float = 0.0) -> InsufficientQuota:
    """The same 429 `insufficient_quota` at arrival and when a turn gets its process."""
    running = f" and ${reserved:.4f} reserved by its turns still running" if reserved else ""
    return InsufficientQuota(
        f"You exceeded your current quota: this key's {ADJECTIVE[over['period']]} budget of ${over['limit_usd']:g} "
        f"is used up (${over['spent_usd']:.4f} spent {SO_FAR[over['period']]}, UTC{running})."
        " Ask the operator to raise KEY_BUDGETS."
    )


@attrs.define
class BudgetGuard:
    ledger: Ledger
    budgets: Budgets
    on_refused: Callable[[str], None] = lambda account: None  # the metrics
    _reserved: dict[str, float] = attrs.field(factory=dict)
    _freed: dict[str, int] = attrs.field(factory=dict)  # how many reservations each key gave back

    def applies(self, account: str) -> bool:
        return "*" in self.budgets or account in self.budgets

    def reserved(self, account: str) -> float:
        return self._reserved.get(account, 0.0)

    async def check(self, account: str) -> None:
        """Raises the 429 when the key's recorded spend plus its reservations reach a budget."""
        if not self.applies(account):
            return
        for _ in range(REREADS):
            freed = self._freed.get(account, 0)
            record = await self.ledger.get(account)
            if self._freed.get(account, 0) == freed:
                break  # no reservation was given back while reading: none is missed
        reserved, now = self.reserved(account), time.time()
        seen = report(self.budgets, account, _plus(record, account, reserved, now), now)
        # In the request's log line: what the key had left when this turn was let in (or refused).
        structlog.contextvars.bind_contextvars(
            budget_left_usd=round(min(b["limit_usd"] - b["spent_usd"] for b in seen), 8) if seen else None
        )
        over = next((b for b in seen if b["exceeded"]), None)
        if over is not None:
            self.on_refused(account)
            over["spent_usd"] -= reserved
            raise refusal(over, reserved)

    def admission(self, account: str, estimate: Callable[[], float]) -> Admit | None:
        """What a turn of this key asks when it gets its process (None: the key has no budget)."""
        if not self.applies(account):
            return None

        async def admit() -> Release:
            await self.check(account)  # nothing awaits between the check and the reservation
            return self._reserve(account, estimate())

        return admit

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


def _plus(record: dict[str, Any] | None, account: str, amount: float, now: float) -> dict[str, Any] | None:
    """The record as if `amount` more were spent now (in the current day and month)."""
    return add_spend(record, account, Spend(cost_usd=amount), 0, now) if amount else record
