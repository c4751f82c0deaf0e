"""GET /v1/limits: each upstream account's plan windows, as the CLI last reported them.

Utilisation (0-1), status and reset time per window (5-hour, 7-day, ...), and whether the
account is limited (a window ran out: no turn goes there until `limited_until`). The figures
come from the CLI's own `rate_limit_event` lines, which it writes only for a Claude login or an
OAuth token and only when something changed (docs/cli-findings.md): an account that has not
answered a turn yet, or one that uses an API key, has no windows. Any valid API key may read it;
when ADMIN_API_KEYS is set, only those keys.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge import appkeys
from bridge.access import is_admin
from bridge.errors import InvalidRequest
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


async def limits(request: web.Request) -> web.Response:
    if request.app[appkeys.CONFIG].admin_api_keys and not is_admin(request):
        raise InvalidRequest(
            "Only an admin key (ADMIN_API_KEYS) may read the upstream accounts' plan limits.",
            status=403,
            code="forbidden",
        )
    return web.json_response({"object": "list", "data": accounts_report(request.app[appkeys.UPSTREAMS])})
