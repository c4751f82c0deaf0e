"""/v1/sessions: create, list, read, delete and clear server-side conversations."""

from __future__ import annotations

from aiohttp import web

from bridge.http.body import read_json
from bridge.http.caller import caller_of
from bridge.http.pagination import page
from bridge.http.stores import session_id, sessions_of
from bridge.sessions import public
from bridge.validation.common import check_metadata, invalid_type


async def create(request: web.Request) -> web.Response:
    sessions = sessions_of(request)
    body = await read_json(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise invalid_type("body", "an object", body)
    record = await sessions.create(caller_of(request), check_metadata(body.get("metadata")))
    return web.json_response(public(record, with_messages=False))


async def list_sessions(request: web.Request) -> web.Response:
    sessions = sessions_of(request)
    return web.json_response(
        page(request, await sessions.list(caller_of(request)), lambda r: public(r, with_messages=False))
    )


async def get(request: web.Request) -> web.Response:
    record = await sessions_of(request).get(caller_of(request), session_id(request.match_info["session_id"]))
    return web.json_response(public(record, with_messages=True))


async def delete(request: web.Request) -> web.Response:
    sid = session_id(request.match_info["session_id"])
    await sessions_of(request).delete(caller_of(request), sid)
    return web.json_response({"id": sid, "object": "session.deleted", "deleted": True})


async def clear(request: web.Request) -> web.Response:
    record = await sessions_of(request).clear(caller_of(request), session_id(request.match_info["session_id"]))
    return web.json_response(public(record, with_messages=True))
