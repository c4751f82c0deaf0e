"""One warm CLI process and the turns it serves.

A slot replays a request's earlier turns into the process (no upstream call), sends the new
user message, streams the events back, and afterwards rewinds the process to an empty
conversation with `rewind_conversation`. Unlike `/clear`, the rewind leaves no caveat blocks
behind, so the next request's upstream call holds exactly that request's conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog

from supervisor.client_tools import DENY_REASON, GATE_HOOKS, hook_decision, is_client_tool, mcp_reply
from supervisor.errors import ControlError, SlotDied, TurnTimeout
from supervisor.events import (
    ControlRequest,
    ControlResponse,
    Event,
    ProcessExited,
    Result,
)
from supervisor.launch import LaunchProfile
from supervisor.transport import Transport, TransportClosed
from supervisor.turn import Line, TurnSettings, TurnSpec

log = structlog.get_logger(__name__)


class SlotState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RESETTING = "resetting"
    DEAD = "dead"


def _user_line(content: Any, line_id: str, *, query: bool) -> dict[str, Any]:
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


def _assistant_line(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    return {
        "type": "assistant",
        "message": {"role": "assistant", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
    }


class Slot:
    def __init__(self, slot_id: str, profile: LaunchProfile, transport: Transport) -> None:
        self.slot_id = slot_id
        self.profile = profile
        self.state = SlotState.STARTING
        self.turns_served = 0
        self.model: str | None = None
        self.models: list[dict[str, Any]] = []
        self.last_used = time.monotonic()
        self.exit_info: ProcessExited | None = None
        self._transport = transport
        self._pending: dict[str, asyncio.Future[ControlResponse]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[None]] = set()
        self._anchor: str | None = None
        self._last_user: str | None = None
        self._anchor_is_user = True
        self._reset_task: asyncio.Task[bool] | None = None
        # A session may keep its conversation on this process between turns (see Pool.bind).
        self.binding: str | None = None
        self.resumed = False
        self.settings = TurnSettings()

    def __repr__(self) -> str:
        return f"<Slot {self.slot_id} {self.state.value} pid={self.pid} turns={self.turns_served}>"

    @property
    def pid(self) -> int | None:
        return self._transport.pid

    @property
    def alive(self) -> bool:
        return self.state is not SlotState.DEAD

    # -- process life -------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Spawns the process and waits for its answer to `initialize`: the ready signal."""
        await self._transport.start()
        self._reader = asyncio.create_task(self._read(), name=f"slot-reader-{self.slot_id}")
        resp = await self.control({"subtype": "initialize", "hooks": GATE_HOOKS}, timeout=timeout)
        self.models = list(resp.get("models") or [])
        self.model = "sonnet"
        if self.state is SlotState.STARTING:  # not if it already exited
            self.state = SlotState.IDLE

    async def close(self) -> None:
        self.state = SlotState.DEAD
        await self._transport.close()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for task in list(self._helpers):
            task.cancel()

    def kill_now(self) -> None:
        kill = getattr(self._transport, "kill_now", None)
        if kill:
            kill()

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
        """Answers the CLI's own control requests: MCP for client tools, and the tool gate."""
        body: dict[str, Any] | None
        response: dict[str, Any]
        try:
            if req.subtype == "can_use_tool":
                body = {"behavior": "deny", "message": DENY_REASON}
            elif req.subtype == "hook_callback":
                body = hook_decision(self.profile, req.request)
            elif req.subtype == "mcp_message":
                body = mcp_reply(self.profile, req.request)
            else:
                body = None
        except Exception as exc:  # noqa: BLE001 - the CLI must always get an answer, or it waits forever
            log.error("cli_control_request_failed", slot_id=self.slot_id, subtype=req.subtype, error=repr(exc))
            body = None
        if body is None:
            log.warning("cli_control_request_refused", slot_id=self.slot_id, subtype=req.subtype)
            response = {
                "subtype": "error",
                "request_id": req.request_id,
                "error": f"unsupported: {req.subtype}",
            }
        else:
            if req.subtype in ("can_use_tool", "hook_callback"):
                tool = req.request.get("tool_name") or (req.request.get("input") or {}).get("tool_name")
                if not is_client_tool(self.profile, str(tool)):
                    log.info("cli_tool_use_refused", slot_id=self.slot_id, subtype=req.subtype, tool=tool)
            response = {
                "subtype": "success",
                "request_id": req.request_id,
                "response": body,
            }
        with contextlib.suppress(TransportClosed):
            await self._transport.write({"type": "control_response", "response": response})

    async def control(self, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        request_id = "br_" + uuid.uuid4().hex[:12]
        fut: asyncio.Future[ControlResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
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

    # -- turns ---------------------------------------------------------------------------

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
        try:
            await self._transport.write(line)
        except TransportClosed as exc:
            raise SlotDied(str(exc)) from exc

    async def run(
        self, spec: TurnSpec, deadline: float, timeout_total: float, *, keep: bool = False
    ) -> AsyncIterator[Event]:
        """Replays history, sends the message, yields events up to and including the Result."""
        await self._take(spec.model)
        if spec.settings != self.settings:
            await self.control(
                {
                    "subtype": "apply_flag_settings",
                    "settings": {
                        "effortLevel": spec.settings.effort,
                        "env": {
                            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": None
                            if spec.settings.max_output_tokens is None
                            else str(spec.settings.max_output_tokens)
                        },
                    },
                }
            )
            if spec.settings.max_thinking_tokens != self.settings.max_thinking_tokens:
                await self.control(
                    {"subtype": "set_max_thinking_tokens", "max_thinking_tokens": spec.settings.max_thinking_tokens}
                )
            self.settings = spec.settings
        for line in spec.history:
            await self._replay(line, deadline, timeout_total)
        line_id = str(uuid.uuid4())
        self._mark(line_id, user=True)
        self._last_user = line_id
        await self._send(_user_line(spec.message, line_id, query=True))
        while True:
            event = await self._next(deadline, timeout_total)
            if isinstance(event, Result):
                self.turns_served += 1
                # Start rewinding while the caller is still answering its client: the slot is
                # back in the pool sooner, and a retry finds it clean. A turn that may keep its
                # conversation for its session (keep) is rewound later, only if it is not kept.
                if not keep:
                    self._reset_task = asyncio.create_task(self._rewind(), name=f"rewind-{self.slot_id}")
                yield event
                return
            yield event

    async def _take(self, model: str) -> None:
        """Starts using the slot for a request: what it said while idle is dropped, the model set."""
        self.last_used = time.monotonic()
        while not self._queue.empty():  # anything the process said between turns
            event = self._queue.get_nowait()
            if isinstance(event, ProcessExited):
                raise SlotDied("the CLI process exited while idle")
        if model != self.model:
            await self.control({"subtype": "set_model", "model": model})
            self.model = model

    async def context_usage(self, spec: TurnSpec, deadline: float, timeout_total: float) -> dict[str, Any]:
        """The CLI's own count of this conversation (`get_context_usage`, detail `full`: Anthropic's
        token-counting API, per category), with no upstream turn; `reset()` removes it afterwards."""
        await self._take(spec.model)
        for line in (*spec.history, Line("user", spec.message)):
            await self._replay(line, deadline, timeout_total)
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TurnTimeout(timeout_total)
        return await self.control({"subtype": "get_context_usage", "detail": "full"}, timeout=remaining)

    def _mark(self, line_id: str | None, *, user: bool) -> None:
        if self._anchor is None and line_id is not None:
            self._anchor = line_id
        if self._anchor is None and not user:
            self._anchor_is_user = False

    async def _replay(self, line: Line, deadline: float, timeout_total: float) -> None:
        if line.role == "assistant":
            self._mark(None, user=False)
            await self._send(_assistant_line(line.content))
            return
        line_id = str(uuid.uuid4())
        self._mark(line_id, user=True)
        self._last_user = line_id
        await self._send(_user_line(line.content, line_id, query=False))
        # An un-awaited replayed line would be merged into the next one and break the order.
        while not isinstance(await self._next(deadline, timeout_total), Result):
            pass

    async def interrupt(self, timeout: float = 1.0) -> Result | None:
        """Stops a running turn; the CLI's Result once it confirmed (it carries the turn's cost), else None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self.control({"subtype": "interrupt"}, timeout=timeout)
            while True:
                event = await self._next(deadline, timeout)
                if isinstance(event, Result):
                    return event
        except (TimeoutError, TurnTimeout, SlotDied, ControlError):
            return None

    async def reset(self) -> bool:
        """Rewinds to an empty conversation. False means: recycle this process instead."""
        task, self._reset_task = self._reset_task, None
        if task is not None:
            return await task
        return await self._rewind()

    async def _rewind(self, timeout: float = 2.0) -> bool:
        if self._anchor is None:
            return self.alive
        if not self._anchor_is_user or self._last_user is None:
            return False
        try:
            resp = await self.control(
                {
                    "subtype": "rewind_conversation",
                    "target_message_uuid": self._anchor,
                    "last_seen_user_message_uuid": self._last_user,
                },
                timeout=timeout,
            )
        except (TimeoutError, SlotDied, ControlError) as exc:
            log.warning("slot_reset_failed", slot_id=self.slot_id, error=str(exc))
            return False
        if not resp.get("rewound"):
            log.warning("slot_reset_refused", slot_id=self.slot_id, reason=resp.get("reason"))
            return False
        self._anchor = None
        self._last_user = None
        self._anchor_is_user = True
        return True
