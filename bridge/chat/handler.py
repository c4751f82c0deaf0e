"""POST /v1/chat/completions, streamed and not."""

from __future__ import annotations

import structlog
from aiohttp import web

from bridge import appkeys, hints
from bridge.chat.render import ChatFrontEnd
from bridge.chat.session_turn import answer_stored, join_session
from bridge.http.body import read_json
from bridge.turns import drive
from bridge.turns.service import start_turn
from bridge.validation import parse_chat_request

log = structlog.get_logger(__name__)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    session = await join_session(request, body)
    config = request.app[appkeys.CONFIG]
    chat = parse_chat_request(body, config.limits, web=config.web_search)
    if chat.unapplied:
        log.info("params_not_applied", params=list(chat.unapplied))
    if session is not None and session.earlier is not None:
        return await answer_stored(request, chat, session)
    hint = hints.conversation_hint(request.headers, body) if session is None else None
    turn = start_turn(request, chat, session.id if session is not None else None, hint=hint)
    if session is not None:
        session.held = turn.held
    return await drive.answer(request, turn, ChatFrontEnd(request, chat, session), stream=chat.stream)
