"""Runs the n choices of one request and merges their outputs in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

import attrs
import structlog
from aiohttp import web

from bridge import appkeys
from bridge.access import CLIENT
from bridge.errors import InvalidRequest, ModelNotFound
from bridge.modelmap import UnknownModel
from bridge.schemas import ChatCompletionRequest
from bridge.translate.chat_request import answer_line, instruction, to_turn
from bridge.translate.choice import ChoiceAssembler, Output
from bridge.validation.content import parse_messages
from supervisor.runner import Lease, TurnRunner
from supervisor.turn import TurnSpec

log = structlog.get_logger(__name__)


async def _one(
    runner: TurnRunner, spec: TurnSpec, assembler: ChoiceAssembler, lease: Lease | None = None
) -> AsyncGenerator[list[Output], None]:
    # Closing the runner's generator early (a stop sequence was hit) interrupts the turn.
    async with contextlib.aclosing(runner.stream(spec, lease)) as events:
        async for event in events:
            outputs = assembler.feed(event)
            if outputs:
                yield outputs
            if assembler.done:
                return


async def run_choices(
    runner: TurnRunner, spec: TurnSpec, n: int, make: Callable[[], ChoiceAssembler], lease: Lease | None = None
) -> AsyncGenerator[tuple[int, list[Output]], None]:
    """Yields (choice index, outputs). n > 1 runs n independent turns on n slots at once."""
    if n == 1:  # inline: no task hop, and log context (slot_id) stays with the request
        async with contextlib.aclosing(_one(runner, spec, make(), lease)) as outputs:
            async for item in outputs:
                yield 0, item
        return
    queue: asyncio.Queue[tuple[int, list[Output] | BaseException | None]] = asyncio.Queue()

    async def produce(index: int) -> None:
        try:
            async with contextlib.aclosing(_one(runner, spec, make())) as outputs:
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


def start(
    request: web.Request, chat: ChatCompletionRequest, session_id: str | None = None
) -> tuple[AsyncGenerator[tuple[int, list[Output]], None], Hold]:
    """Resolves the model, translates the request and starts its choices (shared by both APIs).

    The caller must call `hold.finish` with the answer it returned (or None) once it is done.
    """
    pool = request.app[appkeys.POOL]
    try:
        cli_model = request.app[appkeys.MODELS].resolve(chat.model, [str(m.get("value")) for m in pool.cli_models])
    except UnknownModel:
        raise ModelNotFound(chat.model) from None
    structlog.contextvars.bind_contextvars(model=chat.model, cli_model=cli_model, stream=chat.stream, user=chat.user)
    spec = to_turn(chat, cli_model, request.app[appkeys.CONFIG].cli_tools)
    # The process may hold the conversation only when it holds exactly what the client will
    # send back: one choice, no instruction added to the message, no structured output (its
    # answer is a tool call the client never sees), and tool call ids the client keeps.
    holdable = (
        chat.n == 1
        and not chat.legacy_functions
        and spec.profile.json_schema is None
        and instruction(chat, bool(spec.client_tools)) is None
    )
    spec = attrs.evolve(spec, namespace=namespace(request, session_id), hold=holdable)
    hold = Hold(request.app[appkeys.RUNNER])

    def assembler() -> ChoiceAssembler:
        made = ChoiceAssembler(
            json_schema=spec.profile.json_schema, stops=chat.stop, parallel_tool_calls=chat.parallel_tool_calls
        )
        hold.assembler = made
        return made

    lease = hold.lease if holdable else None
    return run_choices(request.app[appkeys.RUNNER], spec, chat.n, assembler, lease), hold
