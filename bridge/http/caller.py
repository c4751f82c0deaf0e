"""Who a request is, for ownership (bridge.ownership): its key's fingerprint and whether it is an admin key."""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.access import is_admin
from bridge.ownership import Caller


def caller_of(request: web.Request) -> Caller:
    if not request.app[appkeys.CONFIG].api_keys:
        return Caller(None)
    return Caller(request[appkeys.ACCOUNT], admin=is_admin(request))
