"""POST /v1/chat/completions, streamed and not."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys, hints
from bridge.convert import chunk_json, to_json
from bridge.errors import ApiError, InvalidRequest, to_api_error
from bridge.routes.body import read_json
from bridge.routes.sessions import session_id, sessions_of
from bridge.routes.sse import open_stream
from bridge.routes.turns import Hold, start
from bridge.schemas import ChatCompletionRequest
from bridge.sessions import Sessions, TurnKey, stored_answer
from bridge.storage.base import StoreError
from bridge.translate.chat_response import ChunkBuilder, CompletionBuilder, completion_chunks
from bridge.translate.choice import ForcedCallError, Output, StructuredOutputError
from bridge.translate.conversation import INSTRUCTION_ROLES
from bridge.validation import parse_chat_request
from supervisor.errors import SupervisorError

log = structlog.get_logger(__name__)
UNAPPLIED_HEADER = "X-Bridge-Unapplied-Params"
SESSION_HEADER = hints.SESSION_HEADER
# How a session turn ran: resumed (on the process holding it), replayed, new, or stored (an
# Idempotency-Key retry answered from the store without a model turn).
SESSION_TURN_HEADER = "X-Bridge-Session"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ESTIMATED_HEADER = "X-Bridge-Usage-Estimated"


def response_headers(
    request: web.Request,
    chat: ChatCompletionRequest,
    *,
    estimated: bool = False,
    session: _SessionTurn | None = None,
    output_field: str = "completion_tokens",
) -> dict[str, str]:
    """`output_field` names the output token count as the API does (the Messages API: output_tokens)."""
    headers = {"X-Request-ID": request.get(appkeys.REQUEST_ID, "")}
    if session is not None:
        headers[SESSION_HEADER] = session.id
        headers[SESSION_TURN_HEADER] = session.how
    if chat.unapplied:
        headers[UNAPPLIED_HEADER] = ",".join(chat.unapplied)
    if estimated:
        headers[ESTIMATED_HEADER] = output_field
    elif chat.stream and chat.stop:
        # Headers leave before the answer: say when the figure would be an estimate.
        headers[ESTIMATED_HEADER] = f"{output_field}; when=stop-sequence"
    return headers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    session = await _join_session(request, body)
    chat = parse_chat_request(body, request.app[appkeys.CONFIG].limits, web=request.app[appkeys.CONFIG].web_search)
    if chat.unapplied:
        log.info("params_not_applied", params=list(chat.unapplied))
    if session is not None and session.earlier is not None:
        return await _answer_stored(request, chat, session)
    hint = hints.conversation_hint(request.headers, body) if session is None else None
    outputs, hold = start(request, chat, session.id if session is not None else None, hint=hint)
    if session is not None:
        session.hold = hold
    record = CompletionBuilder(model=chat.model, n=chat.n, legacy_functions=chat.legacy_functions)
    async with contextlib.aclosing(outputs):
        try:
            if not chat.stream:
                async for index, items in outputs:
                    request.app[appkeys.METRICS].first_output(request)
                    record.feed(index, items)
                completion = to_json(record.build())
                count_usage(request, completion["usage"]["prompt_tokens"], completion["usage"]["completion_tokens"])
                if session is not None and not await session.save(request, completion):
                    return await _answer_stored(request, chat, session)
                headers = response_headers(request, chat, estimated=record.estimated, session=session)
                return web.json_response(completion, headers=headers)
            return await _stream(request, chat, outputs, record, session)
        except StructuredOutputError as exc:
            raise failure(exc) from None
        finally:
            # The process keeps the conversation for the client's next turn, or is rewound.
            hold.finish(record.answer(0))


@attrs.define
class _SessionTurn:
    """A chat request that continues a stored session: what it adds once the answer is there."""

    sessions: Sessions
    id: str
    history: list[dict[str, Any]]
    new_messages: list[dict[str, Any]]
    turn: TurnKey | None = None
    earlier: dict[str, Any] | None = None  # the answer an earlier attempt with this key stored
    hold: Hold | None = None

    @property
    def how(self) -> str:
        if self.earlier is not None:
            return "stored"
        if not self.history:
            return "new"
        lease = self.hold.lease if self.hold is not None else None
        # Resumed: the process held the whole stored conversation, nothing was replayed.
        return "resumed" if lease is not None and lease.resumed and not lease.replayed else "replayed"

    async def save(self, request: web.Request, completion: dict[str, Any]) -> bool:
        """Stores the turn; False when an earlier attempt with the same key stored it first."""
        answer = completion["choices"][0]["message"]
        message = {k: v for k, v in answer.items() if v is not None}
        turn = [*self.new_messages, message]
        _, self.earlier = await self.sessions.append(self.id, turn, self.turn, completion)
        if self.earlier is not None:
            log.info("session_turn_already_stored")
            return False
        request.app[appkeys.METRICS].session_turn(self.how)
        structlog.contextvars.bind_contextvars(session_turn=self.how)
        return True


async def _join_session(request: web.Request, body: Any) -> _SessionTurn | None:
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
    record = await sessions.load(sid)
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
    session = _SessionTurn(sessions, sid, history, new)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        if not 0 < len(key) <= 255:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 255 characters.", param=IDEMPOTENCY_HEADER, code="invalid_value"
            )
        session.turn = TurnKey.of(key, new)
        session.earlier = stored_answer(record, session.turn)
    return session


async def _answer_stored(
    request: web.Request, chat: ChatCompletionRequest, session: _SessionTurn
) -> web.StreamResponse:
    """A retried turn (same Idempotency-Key) whose answer is already stored: that answer again, no model turn."""
    completion = session.earlier
    assert completion is not None
    request.app[appkeys.METRICS].session_turn(session.how)
    structlog.contextvars.bind_contextvars(session_turn=session.how)
    headers = response_headers(request, chat, session=session)
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


def count_usage(request: web.Request, prompt: int, completion: int) -> None:
    request.app[appkeys.METRICS].count_tokens(prompt, completion)
    structlog.contextvars.bind_contextvars(prompt_tokens=prompt, completion_tokens=completion)


def failure(exc: Exception, json_param: str = "response_format") -> ApiError:
    """The OpenAI error for what ended a turn; `json_param` names the API's structured-output field."""
    if isinstance(exc, ForcedCallError):
        return ApiError(str(exc), status=502, type="api_error", param="tool_choice", code="tool_choice_not_followed")
    if isinstance(exc, StructuredOutputError):
        return ApiError(str(exc), status=502, type="api_error", param=json_param, code="invalid_structured_output")
    return to_api_error(exc)


async def _stream(
    request: web.Request,
    chat: ChatCompletionRequest,
    outputs: AsyncGenerator[tuple[int, list[Output]], None],
    record: CompletionBuilder,
    session: _SessionTurn | None,
) -> web.StreamResponse:
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    builder = ChunkBuilder(model=chat.model, include_usage=include_usage, legacy_functions=chat.legacy_functions)
    # Wait for the first output before answering 200: a turn that fails before producing
    # anything (queue full, bad credentials) still gets a real HTTP error status.
    first = await anext(outputs, None)
    request.app[appkeys.METRICS].first_output(request)

    async with open_stream(request, response_headers(request, chat, session=session)) as sse:

        async def send(data: object) -> None:
            await sse.send(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

        try:
            for index in range(chat.n):
                await send(chunk_json(builder.opening(index), include_usage=include_usage))
            pending = [first] if first is not None else []
            for index, items in pending:
                record.feed(index, items)
                for chunk in builder.feed(index, items):
                    await send(chunk_json(chunk, include_usage=include_usage))
            async for index, items in outputs:
                record.feed(index, items)
                for chunk in builder.feed(index, items):
                    await send(chunk_json(chunk, include_usage=include_usage))
            completion = to_json(record.build())
            count_usage(request, completion["usage"]["prompt_tokens"], completion["usage"]["completion_tokens"])
            if session is not None and not await session.save(request, completion):
                # An earlier attempt with this Idempotency-Key stored a different answer first:
                # that one is the conversation now, so this stream must not end as a success.
                raise ApiError(
                    "An earlier attempt with the same Idempotency-Key stored this turn first; "
                    "retry to receive the stored answer.",
                    status=409,
                    param=IDEMPOTENCY_HEADER,
                    code="idempotency_key_in_use",
                )
            usage = builder.usage_chunk()
            if usage is not None:
                await send(chunk_json(usage, include_usage=True))
            await sse.send("[DONE]")
        except (ApiError, SupervisorError, StructuredOutputError, StoreError) as exc:
            err = failure(exc)
            log.info("stream_failed", status=err.status, code=err.code, error=err.message[:300])
            with contextlib.suppress(ConnectionResetError):
                await send(err.body())
        except ConnectionResetError:
            log.info("client_disconnected")
    return sse
