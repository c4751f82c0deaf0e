"""POST /v1/messages (streamed and not) and POST /v1/messages/count_tokens: Anthropic's Messages
API from the same pool, through the same translation as chat completions. Stateless: there are
no sessions here. Errors come in Anthropic's shape (the error middleware chooses it by path).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.http.body import read_json
from bridge.messages.render import MessagesFrontEnd, messages_headers
from bridge.messages.request import MessagesRequest, parse_messages_request
from bridge.tokens import estimate_tokens
from bridge.translate.chat_request import to_turn
from bridge.turns import drive
from bridge.turns.headers import ESTIMATED_HEADER
from bridge.turns.service import resolve_model, start_turn
from supervisor.count import context_usage, total_tokens
from supervisor.errors import ControlError

log = structlog.get_logger(__name__)


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


async def create(request: web.Request) -> web.StreamResponse:
    req = _parse(request, await read_json(request))
    turn = start_turn(request, req.chat)
    return await drive.answer(request, turn, MessagesFrontEnd(request, req.chat), stream=req.chat.stream)


async def count_tokens(request: web.Request) -> web.Response:
    """The CLI's own count of the conversation the same request would send (see the README)."""
    req = _parse(request, await read_json(request), counting=True)
    chat = req.chat
    spec = to_turn(chat, resolve_model(request, chat.model), request.app[appkeys.CONFIG].cli_tools)
    headers = {k: v for k, v in messages_headers(request, chat).items() if k != ESTIMATED_HEADER}
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
