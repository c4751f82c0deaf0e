"""KEY_BUDGETS: what a key may spend per UTC day or month, in USD. Pure.

Format: comma-separated `<who>=<usd>/<day|month>` entries. `<who>` is a key's fingerprint
(`key_` and 10 hex digits, as /v1/usage and /metrics show it), one of the configured keys
itself (turned into its fingerprint at start-up), `anonymous` (every caller when no API_KEYS
are set), or `*` (every key without an entry of its own for that period). A key may have a day
and a month budget; both apply. Example: `key_1a2b3c4d5e=5/day,key_1a2b3c4d5e=100/month,*=20/month`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bridge.spend.figures import PERIODS, current

FINGERPRINT = re.compile(r"\Akey_[0-9a-f]{10}\Z")  # \Z, not $: `$` matches before a final newline
ANONYMOUS = "anonymous"
Budgets = Mapping[str, Mapping[str, float]]  # who -> period -> USD


def fingerprint(key: str) -> str:
    """How a key is named wherever it is shown (usage, metrics, logs, budgets): never the key itself."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:10]


def parse_budgets(raw: str, fingerprints: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """`fingerprints` maps each configured key to its fingerprint, so entries may name a key itself."""
    budgets: dict[str, dict[str, float]] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        who, sep, amount = entry.rpartition("=")
        usd, slash, period = amount.partition("/")
        if not sep or not slash or not who:
            raise ValueError(f"{entry!r}: expected <key fingerprint, key or *>=<usd>/<day|month>")
        who = fingerprints.get(who, who)
        if who not in ("*", ANONYMOUS) and not FINGERPRINT.match(who):
            raise ValueError(f"{entry!r}: {who[:8]}… is neither a configured key nor a key fingerprint (key_…)")
        if period not in PERIODS:
            raise ValueError(f"{entry!r}: the period must be 'day' or 'month'")
        try:
            limit = float(usd)
        except ValueError:
            raise ValueError(f"{entry!r}: {usd!r} is not an amount in USD") from None
        if not limit >= 0 or limit == float("inf"):
            raise ValueError(f"{entry!r}: the amount must be 0 or more")
        if period in budgets.get(who, {}):
            raise ValueError(f"{entry!r}: a second {period} budget for the same key")
        budgets.setdefault(who, {})[period] = limit
    return budgets


def budgets_of(budgets: Budgets, who: str) -> dict[str, float]:
    """The key's own budgets, completed per period by `*`."""
    return {**budgets.get("*", {}), **budgets.get(who, {})}


def report(budgets: Budgets, who: str, record: dict[str, Any] | None, now: float) -> list[dict[str, Any]]:
    """Each budget of the key with what was spent in its current period and what remains."""
    out = []
    for period, limit in sorted(budgets_of(budgets, who).items()):
        spent = float(current(record, period, now)["cost_usd"])
        out.append(
            {
                "period": period,
                "limit_usd": limit,
                "spent_usd": spent,
                "remaining_usd": max(0.0, limit - spent),
                "exceeded": spent >= limit,
            }
        )
    return out


def exceeded(budgets: Budgets, who: str, record: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """The first budget the key has used up, or None."""
    return next((b for b in report(budgets, who, record, now) if b["exceeded"]), None)
