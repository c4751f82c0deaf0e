"""POST /v1/responses, streamed or not (the stored responses: bridge.responses.stored)."""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.hints import conversation_hint
from bridge.http.body import read_json
from bridge.responses.build import ResponseBuilder
from bridge.responses.render import ResponsesFrontEnd
from bridge.responses.request import parse_responses_request, response_id
from bridge.responses.sealing import sealed_reasoning, sealing
from bridge.responses.stored import with_stored
from bridge.turns import drive
from bridge.turns.service import start_turn

AFFINITY_HEADER = "X-Bridge-Affinity"  # set by the shipped nginx: the token it routed this request by


async def create(request: web.Request) -> web.StreamResponse:
    body, previous = await with_stored(request, await read_json(request))
    searchable = request.app[appkeys.CONFIG].web_search
    new_id = response_id(request.headers.get(AFFINITY_HEADER))
    limits = request.app[appkeys.CONFIG].limits
    req = parse_responses_request(body, previous, new_id, searchable, limits)
    chat = req.chat
    kept, made = await sealed_reasoning(request, req)
    seal = await sealing(request, made) if req.encrypted_reasoning else None
    builder = ResponseBuilder(id=new_id, echo=req.echo, names=req.names, seal=seal)
    hint = conversation_hint(request.headers, body)
    turn = start_turn(request, chat, show_reasoning=req.show_reasoning, kept=kept, on_kept=made.append, hint=hint)
    front = ResponsesFrontEnd(request, req, chat, builder, previous)
    return await drive.answer(request, turn, front, stream=req.stream)
