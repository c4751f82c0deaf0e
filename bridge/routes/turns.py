"""Runs the n choices of one request and merges their outputs in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable

import structlog
from aiohttp import web

from bridge import appkeys
from bridge.errors import ModelNotFound
from bridge.modelmap import UnknownModel
from bridge.schemas import ChatCompletionRequest
from bridge.spend.ledger import Meter
from bridge.translate.chat_request import binding_key, instruction, to_turn
from bridge.translate.choice import ChoiceAssembler, Output
from bridge.translate.conversation import split
from bridge.translate.forced import forced_call
from supervisor.events import Result
from supervisor.runner import Binding, TurnRunner
from supervisor.turn import TurnSpec


async def _one(
    runner: TurnRunner,
    spec: TurnSpec,
    assembler: ChoiceAssembler,
    binding: Binding | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> AsyncGenerator[list[Output], None]:
    # Closing the runner's generator early (a stop sequence was hit) interrupts the turn.
    async with contextlib.aclosing(runner.stream(spec, binding, on_result)) as events:
        async for event in events:
            outputs = assembler.feed(event)
            if outputs:
                yield outputs
            if assembler.done:
                return


async def run_choices(
    runner: TurnRunner,
    spec: TurnSpec,
    n: int,
    make: Callable[[], ChoiceAssembler],
    binding: Binding | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> AsyncGenerator[tuple[int, list[Output]], None]:
    """Yields (choice index, outputs). n > 1 runs n independent turns on n slots at once."""
    if n == 1:  # inline: no task hop, and log context (slot_id) stays with the request
        async with contextlib.aclosing(_one(runner, spec, make(), binding, on_result)) as outputs:
            async for item in outputs:
                yield 0, item
        return
    queue: asyncio.Queue[tuple[int, list[Output] | BaseException | None]] = asyncio.Queue()

    async def produce(index: int) -> None:
        try:
            async with contextlib.aclosing(_one(runner, spec, make(), on_result=on_result)) as outputs:
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


async def _metered(
    outputs: AsyncGenerator[tuple[int, list[Output]], None], meter: Meter
) -> AsyncGenerator[tuple[int, list[Output]], None]:
    async with contextlib.aclosing(outputs):
        async for item in outputs:
            yield item
    await meter.settled()  # the spend is in the store before the answer is complete


def start(
    request: web.Request, chat: ChatCompletionRequest, session_id: str | None = None
) -> tuple[AsyncGenerator[tuple[int, list[Output]], None], Binding | None]:
    """Resolves the model, translates the request and starts its choices (shared by all three APIs).

    A single-choice session turn gets a Binding: the process that answers may keep the
    conversation for the session's next turn (the caller must pass it to `runner.finish`).
    Every Result of its turns adds to the caller's spend.
    """
    cli_model = resolve_model(request, chat.model)
    structlog.contextvars.bind_contextvars(model=chat.model, cli_model=cli_model, stream=chat.stream, user=chat.user)
    spec = to_turn(chat, cli_model, request.app[appkeys.CONFIG].cli_tools)

    forced = forced_call(chat)
    offered = frozenset(t.name for t in spec.profile.client_tools)

    def assembler() -> ChoiceAssembler:
        return ChoiceAssembler(
            json_schema=spec.profile.json_schema,
            stops=chat.stop,
            parallel_tool_calls=chat.parallel_tool_calls,
            forced=forced,
            tool_names=offered,
        )

    binding = None
    # Only when the process will hold exactly what the stored session replays: one choice, no
    # instruction or continuation request added to the conversation, no structured output, and
    # tool call ids the client keeps.
    if (
        session_id is not None
        and chat.n == 1
        and not chat.legacy_functions
        and spec.profile.json_schema is None
        and instruction(chat, bool(spec.profile.client_tools)) is None
        and split(chat.messages).exact
    ):
        binding = Binding(session=session_id, key_now=binding_key(session_id, spec.history))
    meter = Meter(request.app[appkeys.LEDGER], request[appkeys.ACCOUNT])
    outputs = run_choices(request.app[appkeys.RUNNER], spec, chat.n, assembler, binding, meter.on_result)
    return _metered(outputs, meter), binding
