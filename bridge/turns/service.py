"""Starts a request's turn (its choices) on the pool: model, translation, the held conversation, spend."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.errors import InvalidRequest, ModelNotFound, NotAuthenticated
from bridge.modelmap import UnknownModel
from bridge.schemas import ChatCompletionRequest
from bridge.spend.estimate import turn_cost
from bridge.spend.ledger import Meter
from bridge.thinking_cache import Call
from bridge.translate.chat_request import instruction, to_turn
from bridge.translate.choice import ChoiceAssembler, Output
from bridge.translate.conversation import split
from bridge.translate.forced import forced_call
from bridge.translate.thinking import KeptThinking, SignedThinking
from bridge.turns.choices import ChoiceRun, run_choices
from supervisor.auth import classify
from supervisor.runner import Lease, TurnRunner


def resolve_model(request: web.Request, model: str) -> str:
    """The CLI model a requested name maps to (404 model_not_found for an unknown one)."""
    pool = request.app[appkeys.POOL]
    try:
        return request.app[appkeys.MODELS].resolve(model, [str(m.get("value")) for m in pool.cli_models])
    except UnknownModel:
        raise ModelNotFound(model) from None


@attrs.define
class HeldConversation:
    """A single-choice turn whose process may keep the conversation for the owner's next turn.

    The front end reports whether it returned the finished answer (`finish`); the process keeps
    the conversation only if the turn ran to its end and the answer is exactly what the model
    said (no stop sequence or token limit cut it, no tool call was left out), so that the
    client's echo of it names what the process holds. The line it keeps is the choice's own
    record of its answer (bridge.turns.choices), whatever API rendered it.
    """

    runner: TurnRunner
    choice: ChoiceRun | None = None
    lease: Lease = attrs.field(factory=Lease)

    def finish(self, answered: bool) -> None:
        line = None
        if answered and self.choice is not None and self.choice.assembler.faithful:
            line = self.choice.record.answer_line()
        # Whether the process kept it (the pool may still refuse: HOLD_TTL=0, quotas, memory).
        structlog.contextvars.bind_contextvars(held=self.runner.finish(self.lease, line))


@attrs.frozen
class Turn:
    """A started turn: its outputs, (choice index, outputs) in arrival order, and its conversation."""

    outputs: AsyncGenerator[tuple[int, list[Output]], None]
    held: HeldConversation


def namespace(request: web.Request, session_id: str | None) -> str:
    """Who owns a conversation a process may hold: the session of its key, or the calling client
    (its API key's fingerprint, or its address when the server has no keys). A held session is
    named with its key too: another key naming the same session id never resumes it."""
    if session_id is not None:
        return f"session:{request.get(appkeys.ACCOUNT, '')}:{session_id}"
    return f"client:{request.get(CLIENT, request.remote or '')}"


def _check_capacity(n: int, size: int, max_queue: int) -> None:
    """n choices are n turns, each on its own slot or in the queue: more than both hold can never
    be served, and a 429 would send the client into retrying it forever."""
    if n > size + max_queue:
        raise InvalidRequest(
            f"Invalid 'n': {n} choices can never be served by this server, which runs {size} turns at once "
            f"and queues {max_queue} more (POOL_SIZE + MAX_QUEUE = {size + max_queue}). Ask for at most "
            f"{size + max_queue} choices, or send several requests.",
            param="n",
            code="n_above_capacity",
        )


def start_turn(
    request: web.Request,
    chat: ChatCompletionRequest,
    session_id: str | None = None,
    show_reasoning: bool = False,
    kept: Mapping[str, SignedThinking] | None = None,
    on_kept: Callable[[KeptThinking], None] | None = None,
    hint: str | None = None,
) -> Turn:
    """Resolves the model, translates the request and starts its choices (shared by all three APIs).

    The caller must call `turn.held.finish` once it is done (bridge.turns.drive does).
    Every Result of its turns adds to the caller's spend. Claude's thinking is returned when the
    request asks for reasoning (or SHOW_REASONING); the signed thinking of the tool calls in the
    history is put back in front of them: those the client carried back (`kept`, sealed
    reasoning) first, else those this process kept. `on_kept` also sees what this turn keeps.
    `hint`: the client's own id for this conversation (bridge.hints): it will continue.
    """
    pool = request.app[appkeys.POOL]
    _check_capacity(chat.n, pool.settings.size, pool.settings.max_queue)
    cli_model = resolve_model(request, chat.model)
    structlog.contextvars.bind_contextvars(model=chat.model, cli_model=cli_model, user=chat.user)
    config = request.app[appkeys.CONFIG]
    cache = request.app[appkeys.THINKING]
    owner = request[appkeys.ACCOUNT]
    sent = (Call.of(c.id, c.name, c.arguments) for message in chat.messages for c in message.tool_calls)
    kept = {**cache.lookup(owner, sent), **(kept or {})}
    show = chat.show_reasoning or show_reasoning or config.show_reasoning
    spec = to_turn(chat, cli_model, config.cli_tools, kept, show)
    forced = forced_call(chat)
    offered = frozenset(t.name for t in spec.client_tools)
    # The process may hold the conversation only when it holds exactly what the client will
    # send back: one choice, no instruction or continuation request added to the conversation,
    # no structured output (its answer is a tool call the client never sees), and tool call
    # ids the client keeps.
    # A stateless conversation's first exchange is not held: most one-question requests are
    # never continued, keeping them costs a rewind later (measured: ~7 ms a request), and
    # replaying one exchange costs ~3 ms. Sessions, and clients that name their conversation,
    # say they will continue.
    holdable = (
        (session_id is not None or hint is not None or bool(spec.history))
        and chat.n == 1
        and not chat.legacy_functions
        and spec.profile.json_schema is None
        and instruction(chat, bool(spec.client_tools)) is None
        and split(chat.messages).exact
    )
    spec = attrs.evolve(spec, namespace=namespace(request, session_id), hold=holdable)
    if hint is not None:
        structlog.contextvars.bind_contextvars(client_conversation=hint[:64])
    held = HeldConversation(request.app[appkeys.RUNNER])

    def choice() -> ChoiceRun:
        made = ChoiceRun(
            ChoiceAssembler(
                json_schema=spec.profile.json_schema,
                stops=chat.stop,
                parallel_tool_calls=chat.parallel_tool_calls,
                forced=forced,
                tool_names=offered,
                show_reasoning=show,
            )
        )
        held.choice = made
        return made

    if classify(pool.cli_account).missing:
        raise NotAuthenticated()  # at once: the CLI would only answer "Not logged in"

    def keep(out: KeptThinking, calls: list[Call]) -> None:
        cache.keep(owner, calls, out.thinking)
        if on_kept is not None:
            on_kept(out)

    meter = Meter(request.app[appkeys.LEDGER], request[appkeys.ACCOUNT])
    lease = held.lease if holdable else None
    # Each turn's process is granted within the key's KEY_CONCURRENCY, and its budget is checked
    # again then, with what the key's running turns may still cost (bridge.spend.guard).
    admission = request.app[appkeys.BUDGETS].admission(
        request[appkeys.ACCOUNT], request.get(CLIENT, request.remote or ""), lambda: turn_cost(spec, pool.cli_models)
    )
    outputs = run_choices(request.app[appkeys.RUNNER], spec, chat.n, choice, lease, meter.on_result, keep, admission)
    return Turn(outputs, held)
