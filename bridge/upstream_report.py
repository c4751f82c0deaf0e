"""The upstream accounts as /v1/limits and /health show them: plan windows, limits, cool-downs."""

from __future__ import annotations

from typing import Any

from supervisor.accounts import Upstream, Upstreams


def account_report(upstream: Upstream) -> dict[str, Any]:
    """One account's entry (its name and credential kind, never the credential)."""
    cooling = upstream.cooling_until if upstream.cooling_until > upstream.limits.clock() else None
    return {
        "object": "upstream_account",
        "name": upstream.name,
        "kind": upstream.spec.kind,
        **upstream.limits.report(),
        "cooling_down_until": cooling,
    }


def accounts_report(upstreams: Upstreams) -> list[dict[str, Any]]:
    return [account_report(u) for u in upstreams.all]
