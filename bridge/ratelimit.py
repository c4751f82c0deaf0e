"""Per-client request budgets: a token bucket for requests per minute, a counter for turns."""

from __future__ import annotations

import math
import time

import attrs

from bridge.errors import RateLimited


@attrs.define
class _Bucket:
    tokens: float
    updated: float
    in_flight: int = 0


@attrs.define
class RateLimiter:
    """A token bucket per client (requests per minute) and a counter of running turns."""

    rpm: int
    concurrent: int
    _buckets: dict[str, _Bucket] = attrs.field(factory=dict)

    def _bucket(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.setdefault(client, _Bucket(float(self.rpm), now))
        if self.rpm:
            bucket.tokens = min(self.rpm, bucket.tokens + (now - bucket.updated) * self.rpm / 60)
        bucket.updated = now
        return bucket

    def take(self, client: str, now: float | None = None) -> dict[str, str]:
        """Spends one request; returns the x-ratelimit headers, or raises RateLimited."""
        if not self.rpm:
            return {}
        now = time.monotonic() if now is None else now
        bucket = self._bucket(client, now)
        refill = 60 / self.rpm
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) * refill
            raise RateLimited(f"Rate limit reached: {self.rpm} requests per minute. Try again in {wait:.1f}s.", wait)
        bucket.tokens -= 1
        return {
            "x-ratelimit-limit-requests": str(self.rpm),
            "x-ratelimit-remaining-requests": str(math.floor(bucket.tokens)),
            "x-ratelimit-reset-requests": f"{(self.rpm - bucket.tokens) * refill:.3f}s",
        }

    def enter(self, client: str) -> None:
        if not self.concurrent:
            return
        bucket = self._bucket(client, time.monotonic())
        if bucket.in_flight >= self.concurrent:
            raise RateLimited(f"Too many concurrent requests: at most {self.concurrent} turns at once per key.", 1)
        bucket.in_flight += 1

    def leave(self, client: str) -> None:
        if self.concurrent and client in self._buckets:
            self._buckets[client].in_flight -= 1
