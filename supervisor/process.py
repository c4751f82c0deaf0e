"""A CLI process over stream-json: its control requests, its events, its end. No turn logic.

The bridge writes JSON lines to the process's stdin and reads events from its stdout (see
`supervisor.framing`). Control responses go to whoever asked; the CLI's own control requests
(its MCP messages and the tool gate) are answered by `_decide`, which the slot provides;
everything else is queued for the turn that is running. When the output ends, however it
ends, the process is dead and everyone waiting on it hears so.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import time
import uuid
from typing import Any

import structlog

from supervisor.errors import ControlError, SlotDied, TurnTimeout
from supervisor.events import ControlRequest, ControlResponse, Event, ProcessExited
from supervisor.transport import Transport, TransportClosed
from supervisor.turn import Line

log = structlog.get_logger(__name__)


class SlotState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RESETTING = "resetting"
    DEAD = "dead"


def user_line(content: Any, line_id: str, *, query: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
        "uuid": line_id,
        # The client's text as written: no `@path` file mention is expanded (the CLI would read
        # that file from the host and send it upstream) and no `/command` is run. (Not
        # `client_composed`, which also skips the CLI's turn-start pass and leaves an empty
        # system message upstream.)
        "text_not_typed": True,
    }
    if not query:
        line["shouldQuery"] = False
    return line


def assistant_line(line: Line) -> dict[str, Any]:
    content = line.content
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    message: dict[str, Any] = {"role": "assistant", "content": [*line.thinking, *content]}
    if line.model is not None:
        message["model"] = line.model
    return {
        "type": "assistant",
        "message": message,
        "parent_tool_use_id": None,
        "session_id": "default",
    }


class CliProcess:
    def __init__(self, slot_id: str, transport: Transport) -> None:
        self.slot_id = slot_id
        self.state = SlotState.STARTING
        self.exit_info: ProcessExited | None = None
        self._transport = transport
        self._pending: dict[str, asyncio.Future[ControlResponse]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[None]] = set()
        self.parked = False
        self.parked_seconds = 0.0
        self._parked_at = 0.0

    def park(self) -> bool:
        """Stops the idle process (SIGSTOP to its group): an idle CLI spends 2.5-9.5 ms of CPU a second
        on its timers, a stopped one none; its pipes, its MCP connection and its conversation
        survive (measured, docs/cli-findings.md). Anything that talks to it continues it first."""
        if self.parked or not self.alive:
            return False
        self._transport.signal_group(signal.SIGSTOP)
        self.parked, self._parked_at = True, time.monotonic()
        return True

    def unpark(self) -> None:
        if not self.parked:
            return
        self.parked = False
        self.parked_seconds += time.monotonic() - self._parked_at
        self._transport.signal_group(signal.SIGCONT)

    @property
    def pid(self) -> int | None:
        return self._transport.pid

    @property
    def alive(self) -> bool:
        return self.state is not SlotState.DEAD

    async def _open(self) -> None:
        await self._transport.start()
        self._reader = asyncio.create_task(self._read(), name=f"slot-reader-{self.slot_id}")

    async def _decide(self, req: ControlRequest) -> dict[str, Any] | None:
        """The answer to one of the CLI's own control requests; None refuses it."""
        return None

    def _answered(self, req: ControlRequest, body: dict[str, Any]) -> None:
        """Called once the CLI has the answer."""

    async def close(self) -> None:
        self.unpark()  # a stopped process would not read its closed stdin or handle SIGTERM
        self.state = SlotState.DEAD
        await self._transport.close()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for task in list(self._helpers):
            task.cancel()

    async def ended(self) -> None:
        """Returns once the process is gone (its output reader has stopped)."""
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(self._reader)

    def kill_now(self) -> None:
        self._transport.kill_now()

    async def _read(self) -> None:
        exited: ProcessExited | None = None
        try:
            async for event in self._transport.events():
                if isinstance(event, ControlResponse):
                    fut = self._pending.pop(event.request_id, None)
                    if fut and not fut.done():
                        fut.set_result(event)
                elif isinstance(event, ControlRequest):
                    task = asyncio.create_task(self._answer(event))
                    self._helpers.add(task)
                    task.add_done_callback(self._helpers.discard)
                elif isinstance(event, ProcessExited):
                    exited = event
                else:
                    self._queue.put_nowait(event)
        except Exception as exc:  # noqa: BLE001 - a reader that dies must not leave a slot that looks alive
            log.error("slot_reader_failed", slot_id=self.slot_id, error=repr(exc))
        finally:
            # However the reader ended, the slot is dead and everyone waiting on it hears so.
            self.exit_info = exited or ProcessExited(None, "the reader of the CLI's output stopped")
            self.state = SlotState.DEAD
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(SlotDied(f"CLI exited (rc={self.exit_info.returncode})"))
            self._pending.clear()
            self._queue.put_nowait(self.exit_info)
            if exited is None:
                self.kill_now()

    async def _answer(self, req: ControlRequest) -> None:
        """Answers one of the CLI's own control requests (it waits for every answer)."""
        body: dict[str, Any] | None
        try:
            body = await self._decide(req)
        except Exception as exc:  # noqa: BLE001 - the CLI must always get an answer, or it waits forever
            log.error("cli_control_request_failed", slot_id=self.slot_id, subtype=req.subtype, error=repr(exc))
            body = None
        response: dict[str, Any]
        if body is None:
            log.warning("cli_control_request_refused", slot_id=self.slot_id, subtype=req.subtype)
            response = {"subtype": "error", "request_id": req.request_id, "error": f"unsupported: {req.subtype}"}
        else:
            response = {"subtype": "success", "request_id": req.request_id, "response": body}
        self.unpark()
        with contextlib.suppress(TransportClosed):
            await self._transport.write({"type": "control_response", "response": response})
        if body is not None:
            self._answered(req, body)

    async def control(self, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        request_id = "br_" + uuid.uuid4().hex[:12]
        fut: asyncio.Future[ControlResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        self.unpark()
        try:
            await self._transport.write(
                {
                    "type": "control_request",
                    "request_id": request_id,
                    "request": request,
                }
            )
            resp = await asyncio.wait_for(fut, timeout)
        except TransportClosed as exc:
            raise SlotDied(str(exc)) from exc
        except TimeoutError:
            raise SlotDied(f"the CLI did not answer {request.get('subtype')} within {timeout:g}s") from None
        finally:
            self._pending.pop(request_id, None)
        if not resp.ok:
            raise ControlError(f"{request.get('subtype')}: {resp.error}")
        return resp.response

    async def _next(self, deadline: float, timeout_total: float) -> Event:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TurnTimeout(timeout_total)
        try:
            event = await asyncio.wait_for(self._queue.get(), remaining)
        except TimeoutError:
            raise TurnTimeout(timeout_total) from None
        if isinstance(event, ProcessExited):
            raise SlotDied(f"the CLI process exited mid-turn (rc={event.returncode}): {event.stderr_tail[-500:]}")
        return event

    async def _send(self, line: dict[str, Any]) -> None:
        self.unpark()
        try:
            await self._transport.write(line)
        except TransportClosed as exc:
            raise SlotDied(str(exc)) from exc
