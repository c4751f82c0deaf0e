"""Runs the n choices of one request and merges their outputs in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.errors import InvalidRequest, ModelNotFound, NotAuthenticated
from bridge.modelmap import UnknownModel
from bridge.schemas import ChatCompletionRequest
from bridge.spend.ledger import Meter
from bridge.translate.chat_request import answer_line, instruction, to_turn
from bridge.translate.choice import ChoiceAssembler, Output
from bridge.translate.conversation import split
from bridge.translate.forced import forced_call
from bridge.translate.thinking import KeptThinking, SignedThinking
from bridge.validation.content import parse_messages
from supervisor.auth import classify
from supervisor.events import Result
from supervisor.runner import Lease, TurnRunner
from supervisor.turn import TurnSpec

Keep = Callable[[KeptThinking], None]


async def _one(
    runner: TurnRunner,
    spec: TurnSpec,
    assembler: ChoiceAssembler,
    lease: Lease | None = None,
    on_result: Callable[[Result], None] | None = None,
    keep: Keep | None = None,
) -> AsyncGenerator[list[Output], None]:
    # Closing the runner's generator early (a stop sequence was hit) interrupts the turn.
    async with contextlib.aclosing(runner.stream(spec, lease, on_result)) as events:
        async for event in events:
            outputs: list[Output] = []
            for out in assembler.feed(event):
                if isinstance(out, KeptThinking):
                    if keep is not None:
                        keep(out)  # for the tool round trip; never shown to the client
                else:
                    outputs.append(out)
            if outputs:
                yield outputs
            if assembler.done:
                return


async def run_choices(
    runner: TurnRunner,
    spec: TurnSpec,
    n: int,
    make: Callable[[], ChoiceAssembler],
    lease: Lease | None = None,
    on_result: Callable[[Result], None] | None = None,
    keep: Keep | None = None,
) -> AsyncGenerator[tuple[int, list[Output]], None]:
    """Yields (choice index, outputs). n > 1 runs n independent turns on n slots at once."""
    if n == 1:  # inline: no task hop, and log context (slot_id) stays with the request
        async with contextlib.aclosing(_one(runner, spec, make(), lease, on_result, keep)) as outputs:
            async for item in outputs:
                yield 0, item
        return
    queue: asyncio.Queue[tuple[int, list[Output] | BaseException | None]] = asyncio.Queue()

    async def produce(index: int) -> None:
        try:
            async with contextlib.aclosing(_one(runner, spec, make(), on_result=on_result, keep=keep)) as outputs:
                async for item in outputs:
                    queue.put_nowait((index, item))
            queue.put_nowait((index, None))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            queue.put_nowait((index, exc))

    tasks = [asyncio.create_task(produce(i), name=f"choice-{i}") for i in range(n)]
    remaining = n
    try:
        while remaining:
            index, got = await queue.get()
            if got is None:
                remaining -= 1
            elif isinstance(got, BaseException):
                raise got
            else:
                yield index, got
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def resolve_model(request: web.Request, model: str) -> str:
    """The CLI model a requested name maps to (404 model_not_found for an unknown one)."""
    pool = request.app[appkeys.POOL]
    try:
        return request.app[appkeys.MODELS].resolve(model, [str(m.get("value")) for m in pool.cli_models])
    except UnknownModel:
        raise ModelNotFound(model) from None


@attrs.define
class Hold:
    """A single-choice turn whose process may keep the conversation for the owner's next turn.

    The caller reports the answer it returned (`finish`); the process keeps the conversation
    only if the turn ran to its end and the answer is exactly what the model said (no stop
    sequence or token limit cut it, no tool call was left out), so that the client's echo of
    it names what the process holds.
    """

    runner: TurnRunner
    assembler: ChoiceAssembler | None = None
    lease: Lease = attrs.field(factory=Lease)

    def finish(self, message: dict[str, Any] | None) -> None:
        line = None
        if message is not None and self.assembler is not None and self.assembler.faithful:
            try:
                (parsed,) = parse_messages([{k: v for k, v in message.items() if v is not None}])
            except InvalidRequest:
                parsed = None
            line = answer_line(parsed) if parsed is not None else None
        structlog.contextvars.bind_contextvars(held=line is not None and self.lease.slot is not None)
        self.runner.finish(self.lease, line)


def namespace(request: web.Request, session_id: str | None) -> str:
    """Who owns a conversation a process may hold: the session, or the calling client (its API
    key's fingerprint, or its address when the server has no keys)."""
    if session_id is not None:
        return f"session:{session_id}"
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


def start(
    request: web.Request,
    chat: ChatCompletionRequest,
    session_id: str | None = None,
    show_reasoning: bool = False,
    kept: Mapping[str, SignedThinking] | None = None,
    on_kept: Keep | None = None,
    hint: str | None = None,
) -> tuple[AsyncGenerator[tuple[int, list[Output]], None], Hold]:
    """Resolves the model, translates the request and starts its choices (shared by all three APIs).

    The caller must call `hold.finish` with the answer it returned (or None) once it is done.
    Every Result of its turns adds to the caller's spend. Claude's thinking is returned when the
    request asks for reasoning (or SHOW_REASONING); the signed thinking of the tool calls in the
    history is put back in front of them: those the client carried back (`kept`, sealed
    reasoning) first, else those this process kept. `on_kept` also sees what this turn keeps.
    `hint`: the client's own id for this conversation (bridge.hints): it will continue.
    """
    pool = request.app[appkeys.POOL]
    _check_capacity(chat.n, pool.settings.size, pool.settings.max_queue)
    cli_model = resolve_model(request, chat.model)
    structlog.contextvars.bind_contextvars(model=chat.model, cli_model=cli_model, stream=chat.stream, user=chat.user)
    config = request.app[appkeys.CONFIG]
    cache = request.app[appkeys.THINKING]
    kept = {**cache.lookup(call.id for message in chat.messages for call in message.tool_calls), **(kept or {})}
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
    hold = Hold(request.app[appkeys.RUNNER])

    def assembler() -> ChoiceAssembler:
        made = ChoiceAssembler(
            json_schema=spec.profile.json_schema,
            stops=chat.stop,
            parallel_tool_calls=chat.parallel_tool_calls,
            forced=forced,
            tool_names=offered,
            show_reasoning=show,
        )
        hold.assembler = made
        return made

    if classify(pool.cli_account).missing:
        raise NotAuthenticated()  # at once: the CLI would only answer "Not logged in"

    def keep(out: KeptThinking) -> None:
        cache.keep(out.call_ids, out.thinking)
        if on_kept is not None:
            on_kept(out)

    meter = Meter(request.app[appkeys.LEDGER], request[appkeys.ACCOUNT])
    lease = hold.lease if holdable else None
    outputs = run_choices(request.app[appkeys.RUNNER], spec, chat.n, assembler, lease, meter.on_result, keep)
    return outputs, hold
