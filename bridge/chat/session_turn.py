"""A chat request that continues a stored session (X-Session-ID / `session_id`), and the
Idempotency-Key retry answered from the store without a model turn."""

from __future__ import annotations

import json
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys, hints
from bridge.chat.build import completion_chunks
from bridge.errors import InvalidRequest
from bridge.http.caller import caller_of
from bridge.http.sse import open_stream
from bridge.http.stores import session_id, sessions_of
from bridge.ownership import Caller
from bridge.schemas import ChatCompletionRequest
from bridge.sessions import Sessions, TurnKey, stored_answer
from bridge.translate.conversation import INSTRUCTION_ROLES
from bridge.turns.headers import turn_headers
from bridge.turns.service import HeldConversation

log = structlog.get_logger(__name__)
SESSION_HEADER = hints.SESSION_HEADER
# How a session turn ran: resumed (on the process holding it), replayed, new, or stored (an
# Idempotency-Key retry answered from the store without a model turn).
SESSION_TURN_HEADER = "X-Bridge-Session"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@attrs.define
class SessionTurn:
    """A chat request that continues a stored session: what it adds once the answer is there."""

    sessions: Sessions
    caller: Caller
    id: str
    history: list[dict[str, Any]]
    new_messages: list[dict[str, Any]]
    turn: TurnKey | None = None
    earlier: dict[str, Any] | None = None  # the answer an earlier attempt with this key stored
    held: HeldConversation | None = None

    @property
    def how(self) -> str:
        if self.earlier is not None:
            return "stored"
        if not self.history:
            return "new"
        lease = self.held.lease if self.held is not None else None
        # Resumed: the process held the whole stored conversation, nothing was replayed.
        return "resumed" if lease is not None and lease.resumed and not lease.replayed else "replayed"

    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.id, SESSION_TURN_HEADER: self.how}

    async def save(self, request: web.Request, completion: dict[str, Any]) -> bool:
        """Stores the turn; False when an earlier attempt with the same key stored it first."""
        answer = completion["choices"][0]["message"]
        message = {k: v for k, v in answer.items() if v is not None}
        turn = [*self.new_messages, message]
        _, self.earlier = await self.sessions.append(self.caller, self.id, turn, self.turn, completion)
        if self.earlier is not None:
            log.info("session_turn_already_stored")
            return False
        request.app[appkeys.METRICS].session_turn(self.how)
        structlog.contextvars.bind_contextvars(session_turn=self.how)
        return True


async def join_session(request: web.Request, body: Any) -> SessionTurn | None:
    """With X-Session-ID (`sess_…`) or `session_id`, the stored history goes before the client's
    messages. Another X-Session-ID value is the client's own conversation id (bridge.hints)."""
    if not isinstance(body, dict):
        return None
    raw = body.pop("session_id", None) or hints.bridge_session(request.headers.get(SESSION_HEADER))
    if raw is None:
        return None
    sid = session_id(raw)
    sessions = sessions_of(request)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None  # validation reports it
    caller = caller_of(request)
    record = await sessions.load(caller, sid)
    history = list((record or {}).get("messages", []))
    # The request's leading instructions stay leading (its system prompt); without any other
    # message, they are what this turn answers, after the history.
    new = [m for m in messages if not _is_instruction(m)]
    first = next((i for i, m in enumerate(messages) if not _is_instruction(m)), len(messages))
    if repeated := hints.resent(new, history):
        new = new[repeated:]  # the client sent the whole conversation: nothing goes in front of it
    elif first < len(messages):
        body["messages"] = [*messages[:first], *history, *messages[first:]]
    else:
        body["messages"] = [*history, *messages]
    structlog.contextvars.bind_contextvars(session_id=sid, history_messages=len(history))
    session = SessionTurn(sessions, caller, sid, history, new)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        if not 0 < len(key) <= 255:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 255 characters.", param=IDEMPOTENCY_HEADER, code="invalid_value"
            )
        session.turn = TurnKey.of(key, new)
        session.earlier = stored_answer(record, session.turn)
    return session


async def answer_stored(request: web.Request, chat: ChatCompletionRequest, session: SessionTurn) -> web.StreamResponse:
    """A retried turn (same Idempotency-Key) whose answer is already stored: that answer again, no model turn."""
    completion = session.earlier
    assert completion is not None
    request.app[appkeys.METRICS].session_turn(session.how)
    structlog.contextvars.bind_contextvars(session_turn=session.how)
    headers = turn_headers(request, chat, extra=session.headers())
    if not chat.stream:
        return web.json_response(completion, headers=headers)
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    async with open_stream(request, headers) as sse:
        for chunk in completion_chunks(completion, include_usage=include_usage):
            await sse.send(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")))
        await sse.send("[DONE]")
    return sse


def _is_instruction(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") in INSTRUCTION_ROLES
