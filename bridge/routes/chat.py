"""POST /v1/chat/completions, streamed and not."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator

import structlog
from aiohttp import web
from aiohttp_sse import sse_response

from bridge import appkeys
from bridge.convert import chunk_json, to_json
from bridge.errors import ApiError, ModelNotFound, to_api_error
from bridge.modelmap import UnknownModel
from bridge.routes.body import read_json
from bridge.schemas import ChatCompletionRequest
from bridge.translate.chat_request import to_turn
from bridge.translate.chat_response import ChunkBuilder, CompletionBuilder
from bridge.validation import parse_chat_request
from supervisor.errors import SupervisorError
from supervisor.events import Event, Result

log = structlog.get_logger(__name__)
UNAPPLIED_HEADER = "X-Bridge-Unapplied-Params"


def _headers(request: web.Request, chat: ChatCompletionRequest) -> dict[str, str]:
    headers = {"X-Request-ID": request.get(appkeys.REQUEST_ID, "")}
    if chat.unapplied:
        headers[UNAPPLIED_HEADER] = ",".join(chat.unapplied)
    return headers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    chat = parse_chat_request(await read_json(request))
    pool = request.app[appkeys.POOL]
    try:
        cli_model = request.app[appkeys.MODELS].resolve(chat.model, [str(m.get("value")) for m in pool.cli_models])
    except UnknownModel:
        raise ModelNotFound(chat.model) from None
    structlog.contextvars.bind_contextvars(model=chat.model, cli_model=cli_model, stream=chat.stream, user=chat.user)
    if chat.unapplied:
        log.info("params_not_applied", params=list(chat.unapplied))
    spec = to_turn(chat, cli_model)
    events = request.app[appkeys.RUNNER].stream(spec)
    async with contextlib.aclosing(events):
        if not chat.stream:
            builder = CompletionBuilder(model=chat.model)
            async for event in events:
                builder.feed(event)
            return web.json_response(to_json(builder.build()), headers=_headers(request, chat))
        return await _stream(request, chat, events)


async def _stream(
    request: web.Request, chat: ChatCompletionRequest, events: AsyncGenerator[Event, None]
) -> web.StreamResponse:
    include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
    builder = ChunkBuilder(model=chat.model, include_usage=include_usage)
    # Wait for the first output before answering 200: a turn that fails before producing
    # anything (queue full, bad credentials) still gets a real HTTP error status.
    pending = []
    async for event in events:
        pending.extend(builder.feed(event))
        if pending or isinstance(event, Result):
            break

    async with sse_response(
        request, headers=_headers(request, chat), sep="\n", ping_interval=10, allow_all_methods=True
    ) as sse:

        async def send(data: object) -> None:
            await sse.send(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

        try:
            await send(chunk_json(builder.opening(), include_usage=include_usage))
            for chunk in pending:
                await send(chunk_json(chunk, include_usage=include_usage))
            async for event in events:
                for chunk in builder.feed(event):
                    await send(chunk_json(chunk, include_usage=include_usage))
            await sse.send("[DONE]")
        except (ApiError, SupervisorError) as exc:
            err = to_api_error(exc)
            log.info(
                "stream_failed",
                status=err.status,
                code=err.code,
                error=err.message[:300],
            )
            with contextlib.suppress(ConnectionResetError):
                await send(err.body())
        except ConnectionResetError:
            log.info("client_disconnected")
    return sse
