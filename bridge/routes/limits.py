"""GET /v1/limits: each upstream account's plan windows, as the CLI last reported them.

Utilisation (0-1), status and reset time per window (5-hour, 7-day, ...), and whether the
account is limited (a window ran out: no turn goes there until `limited_until`). The figures
come from the CLI's own `rate_limit_event` lines, which it writes only for a Claude login or an
OAuth token and only when something changed (docs/cli-findings.md): an account that has not
answered a turn yet, or one that uses an API key, has no windows. Any valid API key may read it;
when ADMIN_API_KEYS is set, only those keys.
"""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.access import is_admin
from bridge.errors import InvalidRequest
from bridge.upstream_report import accounts_report


async def limits(request: web.Request) -> web.Response:
    if request.app[appkeys.CONFIG].admin_api_keys and not is_admin(request):
        raise InvalidRequest(
            "Only an admin key (ADMIN_API_KEYS) may read the upstream accounts' plan limits.",
            status=403,
            code="forbidden",
        )
    return web.json_response({"object": "list", "data": accounts_report(request.app[appkeys.UPSTREAMS])})
