"""POST /v1/responses, streamed or not (the stored responses: bridge.responses.stored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.hints import conversation_hint
from bridge.http.body import read_json
from bridge.ownership import Use
from bridge.responses.build import ResponseBuilder
from bridge.responses.references import references, substitute
from bridge.responses.render import ResponsesFrontEnd
from bridge.responses.request import ResponsesRequest, parse_responses_request, response_id
from bridge.responses.stored import load, stored_items
from bridge.translate.thinking import KeptThinking, SignedThinking
from bridge.turns import drive
from bridge.turns.service import start_turn
from bridge.validation import parse_chat_request

log = structlog.get_logger(__name__)
AFFINITY_HEADER = "X-Bridge-Affinity"  # set by the shipped nginx: the token it routed this request by


async def create(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    previous: list[dict[str, Any]] = []
    if isinstance(body, dict) and body.get("previous_response_id") is not None:
        prev = await load(request, body["previous_response_id"], Use.CONTINUE, "previous_response_id")
        previous = list(prev.get("conversation", []))
    if isinstance(body, dict) and (refs := references(body.get("input"))):
        body = {**body, "input": substitute(body["input"], await stored_items(request, refs))}
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
    turn = start_turn(request, chat, show_reasoning=req.show_reasoning, kept=kept, on_kept=made.append, hint=hint)
    front = ResponsesFrontEnd(request, req, chat, builder, previous)
    return await drive.answer(request, turn, front, stream=req.stream)


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
