"""/v1/responses: create (streamed or not), retrieve, delete, input items, list."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.errors import ApiError, NotFound
from bridge.hints import conversation_hint
from bridge.responses.build import ResponseBuilder
from bridge.responses.references import items_of, references, substitute
from bridge.responses.request import ResponsesRequest, parse_responses_request, response_id
from bridge.routes.body import read_json
from bridge.routes.chat import count_usage, failure, response_headers
from bridge.routes.pagination import page
from bridge.routes.sessions import session_id
from bridge.routes.sse import open_stream
from bridge.routes.turns import start
from bridge.schemas import ChatCompletionRequest
from bridge.storage.base import Record, StoreError
from bridge.translate.choice import Output, StructuredOutputError
from bridge.translate.thinking import KeptThinking, SignedThinking
from bridge.validation import parse_chat_request
from supervisor.errors import SupervisorError

log = structlog.get_logger(__name__)
KIND = "responses"
AFFINITY_HEADER = "X-Bridge-Affinity"  # set by the shipped nginx: the token it routed this request by


def _not_found(response_id: str, param: str = "response_id") -> NotFound:
    return NotFound(f"No response found with id '{response_id}'.", param=param, code="response_not_found")


async def _load(request: web.Request, response_id: str, param: str = "response_id") -> Record:
    record = await request.app[appkeys.STORE].get(KIND, session_id(response_id, param))
    if record is None:
        raise _not_found(response_id, param)
    return record


async def create(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    previous: list[dict[str, Any]] = []
    if isinstance(body, dict) and body.get("previous_response_id") is not None:
        prev = await _load(request, body["previous_response_id"], "previous_response_id")
        previous = list(prev.get("conversation", []))
    if isinstance(body, dict) and (refs := references(body.get("input"))):
        body = {**body, "input": substitute(body["input"], await _stored_items(request, refs))}
    searchable = request.app[appkeys.CONFIG].web_search
    new_id = response_id(request.headers.get(AFFINITY_HEADER))
    limits = request.app[appkeys.CONFIG].limits
    req = parse_responses_request(body, previous, new_id, searchable, limits)
    chat = parse_chat_request(req.chat_body, limits, web=searchable, messages_param="input", tool_images=True)
    if req.unapplied:
        chat = attrs.evolve(chat, unapplied=(*chat.unapplied, *req.unapplied))
    kept, made = await _sealed_reasoning(request, req)
    seal = await _sealing(request, made) if req.encrypted_reasoning else None
    builder = ResponseBuilder(id=new_id, echo=req.echo, names=req.names, seal=seal)
    hint = conversation_hint(request.headers, body)
    outputs, hold = start(request, chat, show_reasoning=req.show_reasoning, kept=kept, on_kept=made.append, hint=hint)
    async with contextlib.aclosing(outputs):
        try:
            if req.stream:
                return await _stream(request, req, chat, builder, outputs, previous)
            async for _, items in outputs:
                request.app[appkeys.METRICS].first_output(request)
                builder.feed(items)
            _count(request, builder)
            await _save(request, req, builder, previous)
            return web.json_response(builder.snapshot(), headers=response_headers(request, chat))
        except StructuredOutputError as exc:  # streamed: when it ends the turn before any output
            raise failure(exc, "text.format") from None
        finally:
            # The process keeps the conversation for a continuation (previous_response_id or
            # the full history resent), or is rewound.
            hold.finish(builder.assistant_message() if builder.status == "completed" else None)


def _owner(request: web.Request) -> str:
    """Whom sealed reasoning is bound to: the API key's fingerprint, or the address without keys."""
    return str(request.get(CLIENT, request.remote or ""))


async def _sealed_reasoning(
    request: web.Request, req: ResponsesRequest
) -> tuple[dict[str, SignedThinking], list[KeptThinking]]:
    """(the signed thinking the input's reasoning items carry back, by call id; a list for what
    this turn keeps). A token that does not open for this caller is a 400, before any turn."""
    kept: dict[str, SignedThinking] = {}
    if req.sealed:
        sealer = await request.app[appkeys.SEAL].get(request.app[appkeys.STORE])
        owner = _owner(request)
        for sealed in req.sealed:
            for thinking in sealer.open(owner, sealed.token, sealed.param):
                kept.update(dict.fromkeys(thinking.call_ids, thinking.thinking))
    return kept, []


async def _sealing(request: web.Request, made: list[KeptThinking]) -> Callable[[], str | None]:
    """Seals, once the turn is over, the thinking its tool calls were made after (None: none)."""
    sealer, owner = await request.app[appkeys.SEAL].get(request.app[appkeys.STORE]), _owner(request)

    def seal() -> str | None:
        return sealer.seal(owner, made) if made else None

    return seal


async def _stored_items(request: web.Request, refs: dict[str, str | None]) -> dict[str, dict[str, Any]]:
    """The stored items the references name (those found; `substitute` refuses the rest)."""
    stored: dict[str, dict[str, Any]] = {}
    for owner in {r for r in refs.values() if r is not None}:
        record = await request.app[appkeys.STORE].get(KIND, owner)
        if record is not None:
            stored.update(items_of(record))
    return stored


async def _save(
    request: web.Request, req: ResponsesRequest, builder: ResponseBuilder, previous: list[dict[str, Any]]
) -> None:
    if not req.store:
        return
    now = time.time()
    record = {
        "id": builder.id,
        "created_at": builder.created_at,
        "created_ts": now,
        "updated_at": now,
        "response": builder.snapshot(),
        "input_items": req.input_items,
        "conversation": [*previous, *req.new_messages, builder.assistant_message()],
    }
    await request.app[appkeys.STORE].put(KIND, builder.id, record)


async def _stream(
    request: web.Request,
    req: ResponsesRequest,
    chat: ChatCompletionRequest,
    builder: ResponseBuilder,
    outputs: AsyncGenerator[tuple[int, list[Output]], None],
    previous: list[dict[str, Any]],
) -> web.StreamResponse:
    first = await anext(outputs, None)  # fail before the 200 when nothing was produced
    request.app[appkeys.METRICS].first_output(request)
    headers = response_headers(request, chat)
    async with open_stream(request, headers) as sse:

        async def send(events: list[dict[str, Any]]) -> None:
            for event in events:
                await sse.send(json.dumps(event, ensure_ascii=False, separators=(",", ":")), event=event["type"])

        try:
            await send(builder.start())
            if first is not None:
                await send(builder.feed(first[1]))
            async for _, items in outputs:
                await send(builder.feed(items))
            _count(request, builder)
            await _save(request, req, builder, previous)
        except (ApiError, SupervisorError, StructuredOutputError, StoreError) as exc:
            err = failure(exc, "text.format")
            log.info("stream_failed", status=err.status, code=err.code, error=err.message[:300])
            with contextlib.suppress(ConnectionResetError):
                await send([builder.failed(err.code or err.type, err.message)])
        except ConnectionResetError:
            log.info("client_disconnected")
    return sse


def _count(request: web.Request, builder: ResponseBuilder) -> None:
    if builder.usage is not None:
        count_usage(request, builder.usage["input_tokens"], builder.usage["output_tokens"])


async def retrieve(request: web.Request) -> web.Response:
    return web.json_response((await _load(request, request.match_info["response_id"]))["response"])


async def delete(request: web.Request) -> web.Response:
    response_id = session_id(request.match_info["response_id"], "response_id")
    if not await request.app[appkeys.STORE].delete(KIND, response_id):
        raise _not_found(response_id)
    return web.json_response({"id": response_id, "object": "response", "deleted": True})


async def input_items(request: web.Request) -> web.Response:
    record = await _load(request, request.match_info["response_id"])
    items = list(record.get("input_items", []))
    if request.query.get("order", "desc") == "desc":
        items.reverse()
    return web.json_response(page(request, items, lambda item: item))


async def list_responses(request: web.Request) -> web.Response:
    records = await request.app[appkeys.STORE].list(KIND)
    records.sort(key=lambda r: (r.get("created_ts", 0), r["id"]), reverse=True)
    return web.json_response(page(request, records, lambda r: r["response"]))
