"""Stored responses: GET, DELETE and list /v1/responses, their input items, and what a new
request reads of them (previous_response_id, item references). Owned per key (bridge.ownership)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge import appkeys
from bridge.errors import NotFound
from bridge.http.caller import caller_of
from bridge.http.pagination import page
from bridge.http.stores import session_id
from bridge.ownership import Use, fetch, may
from bridge.responses.references import items_of, references, substitute
from bridge.storage.base import CorruptRecord, Record

KIND = "responses"


def _not_found(response_id: str, param: str = "response_id") -> NotFound:
    return NotFound(f"No response found with id '{response_id}'.", param=param, code="response_not_found")


async def load(request: web.Request, response_id: str, use: Use, param: str = "response_id") -> Record:
    """The stored response; another key's is answered as a missing one (bridge.ownership)."""
    record = await fetch(request.app[appkeys.STORE], KIND, session_id(response_id, param), caller_of(request), use)
    if record is None:
        raise _not_found(response_id, param)
    return record


async def with_stored(request: web.Request, body: Any) -> tuple[Any, list[dict[str, Any]]]:
    """(the body with the stored items its input references put in, the conversation of its
    previous_response_id): what a new response continues from."""
    previous: list[dict[str, Any]] = []
    if isinstance(body, dict) and body.get("previous_response_id") is not None:
        prev = await load(request, body["previous_response_id"], Use.CONTINUE, "previous_response_id")
        previous = list(prev.get("conversation", []))
    if isinstance(body, dict) and (refs := references(body.get("input"))):
        body = {**body, "input": substitute(body["input"], await stored_items(request, refs))}
    return body, previous


async def stored_items(request: web.Request, refs: dict[str, str | None]) -> dict[str, dict[str, Any]]:
    """The stored items the references name (those found and the caller's; `substitute` refuses the rest)."""
    stored: dict[str, dict[str, Any]] = {}
    caller = caller_of(request)
    for holder in {r for r in refs.values() if r is not None}:
        record = await fetch(request.app[appkeys.STORE], KIND, holder, caller, Use.CONTINUE)
        if record is not None:
            stored.update(items_of(record))
    return stored


async def retrieve(request: web.Request) -> web.Response:
    return web.json_response((await load(request, request.match_info["response_id"], Use.READ))["response"])


async def delete(request: web.Request) -> web.Response:
    response_id = session_id(request.match_info["response_id"], "response_id")
    caller = caller_of(request)
    store = request.app[appkeys.STORE]

    def change(current: Record | None) -> None:
        if current is None or not may(caller, current, Use.DELETE):
            raise _not_found(response_id)
        # None: the store removes it (checked and removed in one atomic update)

    try:
        await load(request, response_id, Use.DELETE)  # a missing or foreign id never takes the record's lock
    except CorruptRecord:  # for those who may delete a record without an owner
        await store.delete(KIND, response_id)
    else:
        await store.update(KIND, response_id, change)
    return web.json_response({"id": response_id, "object": "response", "deleted": True})


async def input_items(request: web.Request) -> web.Response:
    record = await load(request, request.match_info["response_id"], Use.READ)
    items = list(record.get("input_items", []))
    if request.query.get("order", "desc") == "desc":
        items.reverse()
    return web.json_response(page(request, items, lambda item: item))


async def list_responses(request: web.Request) -> web.Response:
    caller = caller_of(request)
    records = [r for r in await request.app[appkeys.STORE].list(KIND) if may(caller, r, Use.READ)]
    records.sort(key=lambda r: (r.get("created_ts", 0), r["id"]), reverse=True)
    return web.json_response(page(request, records, lambda r: r["response"]))
