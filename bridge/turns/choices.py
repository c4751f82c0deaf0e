"""Runs the n choices of one request and merges their outputs in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Callable

import attrs

from bridge.schemas import ChatMessageIn, ToolCallIn
from bridge.thinking_cache import Call
from bridge.translate.choice import ChoiceAssembler, Finished, Output, TextOut, ToolCallArgs, ToolCallBegin
from bridge.translate.conversation import assistant_line
from bridge.translate.thinking import KeptThinking
from supervisor.admission import Admission
from supervisor.events import Result
from supervisor.runner import Lease, TurnRunner
from supervisor.turn import Line, TurnSpec

Keep = Callable[[KeptThinking, list[Call]], None]


@attrs.define
class ChoiceRecord:
    """What one choice handed the client: its text and client tool calls (id, name, arguments).

    Recorded once, whatever API renders the choice: the thinking kept with the calls is filed
    under them, and a held conversation ends with the line this answer is when the client sends
    it back (`answer_line`), the same line the client's own echo translates to.
    """

    _text: list[str] = attrs.field(factory=list)
    _made: dict[int, tuple[str, str, list[str]]] = attrs.field(factory=dict)
    finished: bool = False

    def see(self, out: Output) -> None:
        if isinstance(out, TextOut):
            self._text.append(out.text)
        elif isinstance(out, ToolCallBegin):
            self._made[out.index] = (out.id, out.name, [])
        elif isinstance(out, ToolCallArgs) and out.index in self._made:
            self._made[out.index][2].append(out.text)
        elif isinstance(out, Finished):
            self.finished = True

    def of(self, call_ids: tuple[str, ...]) -> list[Call]:
        return [Call.of(i, name, "".join(args)) for i, name, args in self._made.values() if i in call_ids]

    def answer_line(self) -> Line | None:
        """The finished answer as a conversation line (None: unfinished, empty, or arguments that
        are no JSON object, which no client could send back as they are)."""
        if not self.finished:
            return None
        calls = []
        for call_id, name, args in self._made.values():
            try:
                arguments = json.loads("".join(args) or "{}")
            except ValueError:
                return None
            if not isinstance(arguments, dict):
                return None
            calls.append(ToolCallIn(call_id, name, arguments))
        text = "".join(self._text)
        return assistant_line(ChatMessageIn("assistant", text or None, tool_calls=tuple(calls)))


@attrs.frozen
class ChoiceRun:
    """One choice's assembler (CLI events -> outputs) and the record of what it handed out."""

    assembler: ChoiceAssembler
    record: ChoiceRecord = attrs.field(factory=ChoiceRecord)


async def _one(
    runner: TurnRunner,
    spec: TurnSpec,
    choice: ChoiceRun,
    lease: Lease | None = None,
    on_result: Callable[[Result], None] | None = None,
    keep: Keep | None = None,
    admission: Admission | None = None,
) -> AsyncGenerator[list[Output], None]:
    # Closing the runner's generator early (a stop sequence was hit) interrupts the turn.
    assembler, record = choice.assembler, choice.record
    async with contextlib.aclosing(runner.stream(spec, lease, on_result, admission)) as events:
        async for event in events:
            outputs: list[Output] = []
            for out in assembler.feed(event):
                if isinstance(out, KeptThinking):
                    if keep is not None:
                        keep(out, record.of(out.call_ids))  # for the tool round trip; never shown to the client
                else:
                    record.see(out)
                    outputs.append(out)
            if outputs:
                yield outputs
            if assembler.done:
                return


async def run_choices(
    runner: TurnRunner,
    spec: TurnSpec,
    n: int,
    make: Callable[[], ChoiceRun],
    lease: Lease | None = None,
    on_result: Callable[[Result], None] | None = None,
    keep: Keep | None = None,
    admission: Admission | None = None,
) -> AsyncGenerator[tuple[int, list[Output]], None]:
    """Yields (choice index, outputs). n > 1 runs n independent turns on n slots at once."""
    if n == 1:  # inline: no task hop, and log context (slot_id) stays with the request
        async with contextlib.aclosing(_one(runner, spec, make(), lease, on_result, keep, admission)) as outputs:
            async for item in outputs:
                yield 0, item
        return
    queue: asyncio.Queue[tuple[int, list[Output] | BaseException | None]] = asyncio.Queue()

    async def produce(index: int) -> None:
        try:
            async with contextlib.aclosing(
                _one(runner, spec, make(), on_result=on_result, keep=keep, admission=admission)
            ) as outputs:
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
