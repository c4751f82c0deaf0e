"""An upstream account's plan windows, as the CLI reports them in `rate_limit_event` lines.

Measured on claude 2.1.331 (docs/cli-findings.md): with a Claude login or an OAuth token (never
with an API key) the CLI reads Anthropic's `anthropic-ratelimit-unified-*` response headers and
writes `{"type": "rate_limit_event", "rate_limit_info": {...}}` before the turn's result,
whenever what it read differs from what that process last reported (so a process that saw
nothing new says nothing). A window that ran out comes as `status: "rejected"` with its
`rateLimitType` and `resetsAt` (epoch seconds), followed by a 429 result the CLI did not retry.

The bridge keeps the newest report per account, and an account whose window was rejected is
`limited` until that window resets: no turn is sent there to find out (the clock is injectable).
A 429 without those headers also gives a `rejected` line, but naming no window and no reset
time: that one is not a plan limit (see `PlanLimits.observe`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

STATUSES = ("allowed", "allowed_warning", "rejected")
WINDOW_NAMES = {
    "five_hour": "5-hour",
    "seven_day": "7-day",
    "seven_day_opus": "7-day Opus",
    "seven_day_sonnet": "7-day Sonnet",
    "seven_day_overage_included": "7-day (with usage credits)",
    "overage": "usage-credit",
}


@attrs.frozen
class Window:
    name: str  # five_hour, seven_day, ...
    utilization: float | None  # 0..1
    resets_at: float | None  # epoch seconds
    status: str | None  # allowed | allowed_warning | rejected, when the CLI says


@attrs.frozen
class RateLimitInfo:
    """One `rate_limit_info`: the overall status, the window it is about, and every window."""

    status: str
    window: str | None
    resets_at: float | None
    utilization: float | None
    windows: tuple[Window, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def parse_event(raw: Mapping[str, Any]) -> RateLimitInfo | None:
    """The `rate_limit_info` of a `rate_limit_event` line, or None for anything else."""
    info = raw.get("rate_limit_info") if raw.get("type") == "rate_limit_event" else None
    if not isinstance(info, Mapping) or info.get("status") not in STATUSES:
        return None
    windows = []
    unified = info.get("unifiedWindows")
    for name, window in unified.items() if isinstance(unified, Mapping) else ():
        if isinstance(window, Mapping):
            status = window.get("status")
            windows.append(
                Window(
                    str(name),
                    _number(window.get("utilization")),
                    _number(window.get("resetsAt")),
                    status if status in STATUSES else None,
                )
            )
    kind = info.get("rateLimitType")
    return RateLimitInfo(
        status=str(info["status"]),
        window=kind if isinstance(kind, str) else None,
        resets_at=_number(info.get("resetsAt")),
        utilization=_number(info.get("utilization")),
        windows=tuple(windows),
    )


def window_label(name: str | None) -> str:
    return WINDOW_NAMES.get(name or "", name or "plan")


@attrs.frozen
class Limited:
    """An account that may not be sent turns until `until` (epoch seconds)."""

    window: str | None
    until: float
    reason: str  # "rejected" (a plan window ran out)

    def retry_after(self, now: float) -> float:
        return max(0.0, self.until - now)

    def describe(self) -> str:
        at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.until))
        return f"the {window_label(self.window)} usage limit of the upstream account is reached; it resets at {at}"


# How long an account whose window was rejected without a reset time stays out.
UNKNOWN_RESET_S = 300.0


@attrs.define
class PlanLimits:
    """The newest plan figures of one upstream account, and until when it is limited."""

    clock: Callable[[], float] = time.time
    _windows: dict[str, Window] = attrs.field(factory=dict)
    _status: str | None = None
    _limited: Limited | None = None
    _updated_at: float | None = None

    def observe(self, info: RateLimitInfo) -> Limited | None:
        """Takes a report; returns the limit it sets, if the report says a window ran out.

        A rejection that names no window and no reset is the server limiting requests, "not your
        usage limit" in the CLI's words (a 429 without the unified headers): a passing overload,
        retried like one, which says nothing about the plan."""
        if info.rejected and info.window is None and info.resets_at is None:
            return None
        now = self.clock()
        self._updated_at = now
        self._status = info.status
        for window in info.windows:
            self._windows[window.name] = window
        if info.window and info.window not in self._windows:
            self._windows[info.window] = Window(info.window, info.utilization, info.resets_at, info.status)
        if info.rejected:
            until = info.resets_at if info.resets_at and info.resets_at > now else now + UNKNOWN_RESET_S
            self._limited = Limited(info.window, until, "rejected")
            return self._limited
        self._limited = None
        return None

    def limited(self) -> Limited | None:
        """The limit in force now, if any (it ends by itself at its reset)."""
        if self._limited is not None and self.clock() >= self._limited.until:
            self._limited = None
            self._status = None
        return self._limited

    @property
    def windows(self) -> tuple[Window, ...]:
        return tuple(self._windows.values())

    def report(self) -> dict[str, Any]:
        """The account's figures as /health and /v1/limits show them."""
        limited = self.limited()
        now = self.clock()
        windows = {}
        for window in self._windows.values():
            status = window.status
            if status == "rejected" and (limited is None or limited.window != window.name):
                status = None  # that window has reset since
            windows[window.name] = {
                "utilization": window.utilization,
                "status": status,
                "resets_at": window.resets_at,
                "resets_in_s": None if window.resets_at is None else max(0, round(window.resets_at - now)),
            }
        status = self._status
        if status == "allowed" and any(w["status"] == "allowed_warning" for w in windows.values()):
            status = "allowed_warning"  # the CLI's line says "allowed" at the top even then (measured)
        return {
            "status": "rejected" if limited else status,
            "limited": limited is not None,
            "limited_window": limited.window if limited else None,
            "limited_until": limited.until if limited else None,
            "retry_after_s": round(limited.retry_after(now)) if limited else None,
            "windows": windows,
            "updated_at": self._updated_at,
        }
