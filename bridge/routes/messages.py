"""POST /v1/messages (streamed and not) and POST /v1/messages/count_tokens: Anthropic's Messages
API from the same pool, through the same translation as chat completions. Stateless: there are
no sessions here. Errors come in Anthropic's shape (the error middleware chooses it by path).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.errors import ApiError, anthropic_error
from bridge.messages.build import MessageBuilder
from bridge.messages.request import MessagesRequest, parse_messages_request
from bridge.routes.body import read_json
from bridge.routes.chat import ESTIMATED_HEADER, count_usage, failure, response_headers
from bridge.routes.sse import open_stream
from bridge.routes.turns import resolve_model, start
from bridge.schemas import ChatCompletionRequest
from bridge.storage.base import StoreError
from bridge.tokens import estimate_tokens
from bridge.translate.chat_request import to_turn
from bridge.translate.choice import Output, StructuredOutputError
from supervisor.count import context_usage, total_tokens
from supervisor.errors import ControlError, SupervisorError

log = structlog.get_logger(__name__)
FORMAT_PARAM = "output_config.format"


def _parse(request: web.Request, body: Any, *, counting: bool = False) -> MessagesRequest:
    config = request.app[appkeys.CONFIG]
    headers = ("anthropic-beta",) if request.headers.get("anthropic-beta") else ()
    web_mode = config.security_mode == "web"
    req = parse_messages_request(
        body, web_mode=web_mode, headers_unapplied=headers, counting=counting, limits=config.limits
    )
    if _thinking_not_applied(request, req):
        req = attrs.evolve(req, chat=attrs.evolve(req.chat, unapplied=(*req.chat.unapplied, "thinking")))
    if req.chat.unapplied:
        log.info("params_not_applied", params=list(req.chat.unapplied))
    return req


def _thinking_not_applied(request: web.Request, req: MessagesRequest) -> bool:
    """The CLI sends adaptive thinking to the models that have it, whatever the budget (measured)."""
    if req.thinking not in ("enabled", "disabled"):
        return False
    cli_model = resolve_model(request, req.chat.model)
    info = next(
        (m for m in request.app[appkeys.POOL].cli_models if cli_model in (m.get("value"), m.get("resolvedModel"))),
        None,
    )
    if info is None or not info.get("supportsAdaptiveThinking"):
        return False  # budgeted thinking: set_max_thinking_tokens applies exactly
    return req.thinking == "enabled" or not info.get("supportsThinkingOff")


def _headers(request: web.Request, chat: ChatCompletionRequest, estimated: bool = False) -> dict[str, str]:
    headers = response_headers(request, chat, estimated=estimated, output_field="output_tokens")
    headers["request-id"] = headers["X-Request-ID"]  # where Anthropic's clients look for it
    return headers


async def create(request: web.Request) -> web.StreamResponse:
    req = _parse(request, await read_json(request))
    chat = req.chat
    outputs, hold = start(request, chat)
    builder = MessageBuilder(model=chat.model)
    async with contextlib.aclosing(outputs):
        try:
            if chat.stream:
                return await _stream(request, chat, builder, outputs)
            try:
                async for _, items in outputs:
                    request.app[appkeys.METRICS].first_output(request)
                    builder.feed(items)
            except StructuredOutputError as exc:
                raise failure(exc, FORMAT_PARAM) from None
            message = builder.snapshot()
            _count(request, message["usage"])
            return web.json_response(message, headers=_headers(request, chat, builder.estimated))
        finally:
            # The process keeps the conversation for the client's next request, or is rewound.
            hold.finish(builder.assistant_message())


def _count(request: web.Request, usage: dict[str, Any]) -> None:
    prompt = usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    count_usage(request, prompt, usage["output_tokens"])


async def _stream(
    request: web.Request,
    chat: ChatCompletionRequest,
    builder: MessageBuilder,
    outputs: AsyncGenerator[tuple[int, list[Output]], None],
) -> web.StreamResponse:
    first = await anext(outputs, None)  # a turn that fails before any output gets a real status
    request.app[appkeys.METRICS].first_output(request)
    async with open_stream(request, _headers(request, chat)) as sse:

        async def send(items: list[Output]) -> None:
            for name, data in builder.feed(items):
                await sse.send(json.dumps(data, ensure_ascii=False, separators=(",", ":")), event=name)

        try:
            if first is not None:
                await send(first[1])
            async for _, items in outputs:
                await send(items)
            _count(request, builder.snapshot()["usage"])
        except (ApiError, SupervisorError, StructuredOutputError, StoreError) as exc:
            err = failure(exc, FORMAT_PARAM)
            log.info("stream_failed", status=err.status, code=err.code, error=err.message[:300])
            _, body = anthropic_error(err, request.get(appkeys.REQUEST_ID))
            with contextlib.suppress(ConnectionResetError):
                await sse.send(json.dumps(body, ensure_ascii=False), event="error")
        except ConnectionResetError:
            log.info("client_disconnected")
    return sse


async def count_tokens(request: web.Request) -> web.Response:
    """The CLI's own count of the conversation the same request would send (see the README)."""
    req = _parse(request, await read_json(request), counting=True)
    chat = req.chat
    spec = to_turn(chat, resolve_model(request, chat.model), request.app[appkeys.CONFIG].cli_tools)
    headers = {k: v for k, v in _headers(request, chat).items() if k != ESTIMATED_HEADER}
    estimated: list[str] = []
    # The CLI's count leaves tool definitions out anyway; not listing them keeps a process that
    # has none free to take any later tool set (see supervisor.placement).
    counted_spec = attrs.evolve(spec, client_tools=())
    try:
        usage = await context_usage(
            request.app[appkeys.POOL], counted_spec, request.app[appkeys.CONFIG].request_timeout
        )
        counted = total_tokens(usage)
    except ControlError as exc:
        log.warning("cli_cannot_count", error=str(exc)[:300])
        counted = None
    if counted is None:  # no figure from the CLI: an estimate, and the header says so
        lines = [[line.role, line.content] for line in spec.history]
        counted = estimate_tokens(json.dumps([spec.system_prompt, lines, spec.message], ensure_ascii=False))
        estimated.append("input_tokens")
    if spec.client_tools and not estimated:
        # The CLI's count leaves out the tool definitions (it treats them as deferred): estimated.
        counted += estimate_tokens(json.dumps([[t.name, t.description, t.input_schema] for t in spec.client_tools]))
        estimated.append("input_tokens; part=tools")
    if estimated:
        headers[ESTIMATED_HEADER] = estimated[0]
    return web.json_response({"input_tokens": counted}, headers=headers)
