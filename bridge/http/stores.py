"""The session store as a request reaches it, and the ids requests name stored records by."""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.errors import InvalidRequest
from bridge.sessions import Sessions
from bridge.storage.base import SAFE_ID


def sessions_of(request: web.Request) -> Sessions:
    if not request.app[appkeys.CONFIG].enable_history:
        raise InvalidRequest("Sessions are disabled on this server (ENABLE_HISTORY=false).", code="sessions_disabled")
    return request.app[appkeys.SESSIONS]


def session_id(raw: object, param: str = "session_id") -> str:
    if not isinstance(raw, str) or not SAFE_ID.fullmatch(raw):
        raise InvalidRequest(
            f"Invalid '{param}': 1 to 128 letters, digits, '_' or '-'.", param=param, code="invalid_value"
        )
    return raw
