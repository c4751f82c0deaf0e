"""A turn's spend from the CLI's own figures, and per-key totals by day and month. Pure.

`result.total_cost_usd` and `modelUsage` are cumulative for the process (a warm process serves
many requests), so a turn's spend is `model_usage_since_last_result`: per turn and per model,
with the CLI's `costUSD`. Measured on 2.1.331: it also covers a turn the bridge cut short (stop
sequence, max_tokens, a client that went away: the interrupt's Result carries it) and the
CLI's own "resume" request after max_tokens, and never counts a turn twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

FIELDS = ("requests", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
PERIODS = ("day", "month")


@attrs.frozen
class Spend:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    reported: bool = True  # False: the CLI gave no per-turn figures (tokens from `usage`, no cost)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def turn_spend(result: dict[str, Any]) -> Spend:
    """One turn's tokens and cost, summed over the models it used."""
    per_model = result.get("model_usage_since_last_result")
    if not isinstance(per_model, dict):
        usage = result.get("usage") or {}
        return Spend(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cache_read_input_tokens=_int(usage.get("cache_read_input_tokens")),
            cache_creation_input_tokens=_int(usage.get("cache_creation_input_tokens")),
            reported=False,
        )
    models = [m for m in per_model.values() if isinstance(m, dict)]
    return Spend(
        input_tokens=sum(_int(m.get("inputTokens")) for m in models),
        output_tokens=sum(_int(m.get("outputTokens")) for m in models),
        cache_read_input_tokens=sum(_int(m.get("cacheReadInputTokens")) for m in models),
        cache_creation_input_tokens=sum(_int(m.get("cacheCreationInputTokens")) for m in models),
        cost_usd=sum(float(m.get("costUSD") or 0.0) for m in models),
    )


def period_of(kind: str, now: float) -> str:
    """The UTC calendar day (`2026-12-01`) or month (`2026-12`) a moment falls in."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return day.isoformat() if kind == "day" else day.isoformat()[:7]


def empty_figures() -> dict[str, Any]:
    return {**dict.fromkeys(FIELDS, 0), "cost_usd": 0.0}


def _add(figures: dict[str, Any] | None, spend: Spend, requests: int) -> dict[str, Any]:
    out = {**empty_figures(), **(figures or {})}
    out["requests"] += requests
    out["input_tokens"] += spend.input_tokens
    out["output_tokens"] += spend.output_tokens
    out["cache_read_input_tokens"] += spend.cache_read_input_tokens
    out["cache_creation_input_tokens"] += spend.cache_creation_input_tokens
    out["cost_usd"] += spend.cost_usd
    return out


def add_spend(record: dict[str, Any] | None, key: str, spend: Spend, requests: int, now: float) -> dict[str, Any]:
    """The key's record with this spend added: all-time, today's and this month's (a new period starts at 0)."""
    record = dict(record or {"id": key, "created_at": now})
    record["updated_at"] = now
    record["total"] = _add(record.get("total"), spend, requests)
    for kind in PERIODS:
        period = period_of(kind, now)
        current = record.get(kind)
        if not isinstance(current, dict) or current.get("period") != period:
            current = None
        record[kind] = {"period": period, **_add(current, spend, requests)}
    return record


def current(record: dict[str, Any] | None, kind: str, now: float) -> dict[str, Any]:
    """The figures of the period `now` falls in (zero when nothing was spent in it yet)."""
    period = period_of(kind, now)
    stored = (record or {}).get(kind)
    if isinstance(stored, dict) and stored.get("period") == period:
        return {"period": period, **empty_figures(), **{k: v for k, v in stored.items() if k != "period"}}
    return {"period": period, **empty_figures()}
