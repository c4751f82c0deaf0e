"""GET /v1/usage: what the caller's key has spent (the CLI's own figures), and its budgets.

A key sees its own totals; a key in ADMIN_API_KEYS sees every key's, named by fingerprint (the
key itself is never stored or shown). `upstream_accounts` is the spend per upstream account that
served the turns (`requests` there counts turns), shown to admin keys, or to every key when
ADMIN_API_KEYS is not set. Periods are UTC calendar days and months.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from bridge import appkeys
from bridge.access import is_admin
from bridge.errors import InvalidRequest
from bridge.spend.budgets import ANONYMOUS, FINGERPRINT, report
from bridge.spend.figures import PERIODS, current, empty_figures
from bridge.storage.base import Record


def _entry(request: web.Request, key: str, record: Record | None, now: float) -> dict[str, Any]:
    return {
        "object": "usage",
        "key": key,
        "total": {**empty_figures(), **((record or {}).get("total") or {})},
        **{period: current(record, period, now) for period in PERIODS},
        "budgets": report(request.app[appkeys.CONFIG].key_budgets, key, record, now),
        "updated_at": (record or {}).get("updated_at"),
    }


async def usage(request: web.Request) -> web.Response:
    ledger = request.app[appkeys.LEDGER]
    now = time.time()
    wanted = request.query.get("key")
    if wanted is not None and not (FINGERPRINT.match(wanted) or wanted == ANONYMOUS):
        raise InvalidRequest("'key' must be a key fingerprint (key_ and 10 hex digits) or 'anonymous'.", param="key")
    if is_admin(request):
        records = {r["id"]: r for r in await ledger.all() if isinstance(r.get("id"), str)}
        keys = [wanted] if wanted is not None else sorted(records)
        data = [_entry(request, key, records.get(key), now) for key in keys]
    else:
        own = request[appkeys.ACCOUNT]
        if wanted is not None and wanted != own:
            raise InvalidRequest(
                "Only an admin key (ADMIN_API_KEYS) may read another key's usage.",
                status=403,
                param="key",
                code="forbidden",
            )
        data = [_entry(request, own, await ledger.get(own), now)]
    body: dict[str, Any] = {"object": "list", "data": data, "admin": is_admin(request)}
    if is_admin(request) or not request.app[appkeys.CONFIG].admin_api_keys:
        # Which upstream account served the turns (all keys together), as /v1/limits is shown.
        spent = {r["id"]: r for r in await request.app[appkeys.UPSTREAM_LEDGER].all() if isinstance(r.get("id"), str)}
        body["upstream_accounts"] = [
            _upstream_entry(u.name, spent.get(u.name), now) for u in request.app[appkeys.UPSTREAMS].all
        ]
    return web.json_response(body)


def _upstream_entry(name: str, record: Record | None, now: float) -> dict[str, Any]:
    return {
        "object": "upstream_usage",
        "account": name,
        "total": {**empty_figures(), **((record or {}).get("total") or {})},
        **{period: current(record, period, now) for period in PERIODS},
        "updated_at": (record or {}).get("updated_at"),
    }
