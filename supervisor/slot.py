"""One warm CLI process and the turns it serves.

Before a turn the slot sets what the turn needs on the warm process: the model and system
prompt (`set_model`), effort and output limit (`apply_flag_settings`), and the client's tools
(the bridge's MCP server, re-listed with `mcp_set_servers`). It then rewinds whatever the
process holds beyond the part of the request's conversation it already has, replays the rest
(no upstream call), sends the new user message and streams the events back.

Afterwards the conversation is either held for the owner's next turn (the caller reports the
answer, see `commit`) or rewound to where the turn began with `rewind_conversation`. Unlike
`/clear`, a rewind leaves no caveat blocks behind, so an upstream call holds exactly its
request's conversation. What a process cannot forget decides which turns it may serve (see
`supervisor/placement.py`): once it has a system prompt it cannot go back to none, and the
first set of client tools it announced upstream stays in every later request.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import structlog

from supervisor.client_tools import DENY_REASON, GATE_HOOKS, Offer, hook_decision, mcp_reply
from supervisor.conversation import Held, HeldLine, last_user_uuid, next_key, resume_point
from supervisor.errors import ControlError, SlotDied, TurnTimeout
from supervisor.events import (
    ControlRequest,
    ControlResponse,
    Event,
    ProcessExited,
    Result,
)
from supervisor.fetch_guard import fetch_addresses
from supervisor.launch import MCP_SERVER, ClientTool, LaunchProfile
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


def _assistant_line(line: Line) -> dict[str, Any]:
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


class Slot:
    def __init__(self, slot_id: str, profile: LaunchProfile, transport: Transport) -> None:
        self.slot_id = slot_id
        self.profile = profile
        self.state = SlotState.STARTING
        self.turns_served = 0
        self.model: str | None = None
        self.models: list[dict[str, Any]] = []
        self.account: dict[str, Any] | None = None  # how the CLI authenticates (see supervisor.auth)
        self.last_used = time.monotonic()
        self.exit_info: ProcessExited | None = None
        self._transport = transport
        self._pending: dict[str, asyncio.Future[ControlResponse]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[None]] = set()
        self._reset_task: asyncio.Task[bool] | None = None
        self.settings = TurnSettings()
        # What the process has been told and cannot all forget (see the module docstring).
        self.system_prompt = ""
        self.offer = Offer(cli_tools=profile.tools, json_schema=profile.json_schema)
        self.sticky: frozenset[ClientTool] | None = None
        self._mcp_connected = False
        self._listed = asyncio.Event()
        # The conversation the process holds, and where the pool told the next turn to resume.
        self.conversation: Held | None = None
        self.resume = 0
        self._turn_start = 0

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
        # systemPromptSnapshot off: a held conversation takes a changed system prompt next turn.
        resp = await self.control(
            {"subtype": "initialize", "hooks": GATE_HOOKS, "systemPromptSnapshot": False}, timeout=timeout
        )
        self.models = list(resp.get("models") or [])
        self.account = resp["account"] if isinstance(resp.get("account"), dict) else None
        self.model = "sonnet"
        # Connected now, with no tools, so that a turn's tools are a cheap re-listing later.
        await self._offer_tools((), timeout)
        await self._warm_up(timeout)
        if self.state is SlotState.STARTING:  # not if it already exited
            self.state = SlotState.IDLE

    async def _warm_up(self, timeout: float) -> None:
        """Runs the CLI's turn machinery once without an upstream call (a replayed line, then
        its rewind): the first real turn on a new process is about 20 ms faster (measured, see
        docs/cli-findings.md), which is what a standby process is for."""
        deadline = asyncio.get_running_loop().time() + timeout
        self.conversation = Held("")
        line_id = await self._replay(Line("user", "."), deadline, timeout)
        self._append(HeldLine("", line_id))
        if not await self._rewind_to(0):
            raise SlotDied("the CLI did not rewind its warm-up line")

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
                body = hook_decision(self.offer, req.request, await fetch_addresses(req.request))
            elif req.subtype == "mcp_message":
                body = mcp_reply(self.offer, req.request)
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
            decision = (body.get("hookSpecificOutput") or {}).get("permissionDecision")
            if req.subtype == "can_use_tool" or decision == "deny":
                tool = req.request.get("tool_name") or (req.request.get("input") or {}).get("tool_name")
                log.info("cli_tool_use_refused", slot_id=self.slot_id, subtype=req.subtype, tool=tool)
            response = {
                "subtype": "success",
                "request_id": req.request_id,
                "response": body,
            }
        with contextlib.suppress(TransportClosed):
            await self._transport.write({"type": "control_response", "response": response})
        if req.subtype == "mcp_message" and (req.request.get("message") or {}).get("method") == "tools/list":
            self._listed.set()

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

    # -- what the process offers --------------------------------------------------------

    async def _offer_tools(self, tools: tuple[ClientTool, ...], timeout: float = 5.0) -> None:
        """Makes the bridge's MCP server list exactly `tools`, and waits until the CLI has them.

        The CLI lists an MCP server's tools once per connection, so a changed set means a
        reconnect (a few ms). The first set announced upstream stays for the process's life
        and later additions would only be deferred, which the pool accounts for (`sticky`):
        after that first set, the listing never changes.
        """
        self.offer = attrs.evolve(self.offer, client_tools=tools)
        if self._mcp_connected:
            await self.control({"subtype": "mcp_set_servers", "servers": {}}, timeout=timeout)
            self._mcp_connected = False
        self._listed.clear()
        await self.control(
            {"subtype": "mcp_set_servers", "servers": {MCP_SERVER: {"type": "sdk", "name": MCP_SERVER}}},
            timeout=timeout,
        )
        self._mcp_connected = True
        try:
            await asyncio.wait_for(self._listed.wait(), timeout)
        except TimeoutError:
            raise SlotDied(f"the CLI did not list the bridge's tools within {timeout:g}s") from None

    async def _prepare(self, spec: TurnSpec, deadline: float, timeout_total: float) -> None:
        """Model, system prompt, effort, output limit and tools, each only when it changes; each
        control request is bounded by the turn's deadline, like the replay and the answer."""
        prompt = spec.system_prompt
        if prompt == "" and self.system_prompt:
            raise ControlError("set_model: a process that had a system prompt cannot go back to none")
        new_prompt = bool(prompt) and prompt != self.system_prompt
        if spec.model != self.model or new_prompt:
            request: dict[str, Any] = {"subtype": "set_model", "model": spec.model}
            if new_prompt:
                request["system_prompt"] = prompt
            await self._control_within(request, deadline, timeout_total)
            self.model = spec.model
            self.system_prompt = prompt or self.system_prompt
        budget, display = spec.settings.max_thinking_tokens, spec.settings.thinking_display
        if (budget, display) != (self.settings.max_thinking_tokens, self.settings.thinking_display):
            # One request for both: a budget sent alone puts the display back to the CLI's default.
            await self.control(
                {"subtype": "set_max_thinking_tokens", "max_thinking_tokens": budget, "thinking_display": display}
            )
            self.settings = attrs.evolve(self.settings, max_thinking_tokens=budget, thinking_display=display)
        if spec.settings != self.settings:
            await self._control_within(
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
                },
                deadline,
                timeout_total,
            )
            self.settings = spec.settings
        if spec.client_tools != self.offer.client_tools:
            if self.sticky is not None and self.sticky != set(spec.client_tools):
                raise ControlError("mcp_set_servers: the process offers its first tool set only")
            try:
                await self._offer_tools(spec.client_tools, self._step_timeout(deadline, timeout_total))
            except SlotDied:
                self._raise_if_late(deadline, timeout_total)
                raise
        if spec.client_tools and self.sticky is None:
            self.sticky = frozenset(spec.client_tools)

    def _step_timeout(self, deadline: float, timeout_total: float, cap: float = 5.0) -> float:
        """What one control step of a turn may wait: its own cap, and never past the deadline."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TurnTimeout(timeout_total)
        return min(cap, remaining)

    def _raise_if_late(self, deadline: float, timeout_total: float) -> None:
        """A step that failed because the turn's time ran out is the turn's timeout (504, the
        process replaced), not a dead process worth a retry."""
        if asyncio.get_running_loop().time() >= deadline - 0.01:
            raise TurnTimeout(timeout_total)

    async def _control_within(self, request: dict[str, Any], deadline: float, timeout_total: float) -> None:
        try:
            await self.control(request, timeout=self._step_timeout(deadline, timeout_total))
        except SlotDied:
            self._raise_if_late(deadline, timeout_total)
            raise

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

    async def _begin(self, spec: TurnSpec, keys: tuple[str, ...], deadline: float, timeout_total: float) -> None:
        """Takes the slot for a turn: rewinds to `self.resume`, sets the turn's model, prompt,
        settings and tools, and replays the history the process does not hold yet."""
        self.last_used = time.monotonic()
        while not self._queue.empty():  # anything the process said between turns
            event = self._queue.get_nowait()
            if isinstance(event, ProcessExited):
                raise SlotDied("the CLI process exited while idle")
        if not await self._rewind_to(self.resume, timeout=self._step_timeout(deadline, timeout_total, 2.0)):
            self._raise_if_late(deadline, timeout_total)
            raise SlotDied("the CLI refused to rewind its conversation")
        if self.conversation is None or self.conversation.namespace != spec.namespace:
            self.conversation = Held(spec.namespace)
        self._turn_start = start = len(self.conversation.lines)
        await self._prepare(spec, deadline, timeout_total)
        for i in range(start, len(spec.history)):
            line_id = await self._replay(spec.history[i], deadline, timeout_total)
            self._append(HeldLine(keys[i + 1], line_id))

    async def run(
        self,
        spec: TurnSpec,
        keys: tuple[str, ...],
        deadline: float,
        timeout_total: float,
        *,
        keep: bool = False,
        again: bool = False,
    ) -> AsyncIterator[Event]:
        """Resumes at `self.resume`, replays the rest of the history, sends the message, and
        yields events up to and including the Result. `keys` name the history's lines (see
        `supervisor.conversation.chain`).

        With `keep` the turn is not rewound at its end (the caller commits it, or asks `reset`
        later); with `again` the message continues the turn just run, in the same conversation.
        """
        if again:
            self.last_used = time.monotonic()
            assert self.conversation is not None and self.conversation.lines
            previous = self.conversation.lines[-1].key
        else:
            await self._begin(spec, keys, deadline, timeout_total)
            previous = keys[-1]
        line_id = str(uuid.uuid4())
        self._append(HeldLine(next_key(previous, Line("user", spec.message)), line_id))
        await self._send(_user_line(spec.message, line_id, query=True))
        while True:
            event = await self._next(deadline, timeout_total)
            if isinstance(event, Result):
                self.turns_served += 1
                # Start rewinding while the caller is still answering its client: the slot is
                # back in the pool sooner, and a retry finds it clean. A turn that is kept is
                # rewound later, only if it is not held (see `reset`).
                if not keep:
                    self._reset_task = asyncio.create_task(
                        self._rewind_to(self._turn_start), name=f"rewind-{self.slot_id}"
                    )
                yield event
                return
            yield event

    async def context_usage(
        self, spec: TurnSpec, keys: tuple[str, ...], deadline: float, timeout_total: float
    ) -> dict[str, Any]:
        """The CLI's own count of this conversation (`get_context_usage`, detail `full`: Anthropic's
        token-counting API, per category), with no upstream turn; `reset()` removes it afterwards."""
        await self._begin(spec, keys, deadline, timeout_total)
        line_id = await self._replay(Line("user", spec.message), deadline, timeout_total)
        assert self.conversation is not None
        self._append(HeldLine(next_key(keys[-1], Line("user", spec.message)), line_id))
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TurnTimeout(timeout_total)
        return await self.control({"subtype": "get_context_usage", "detail": "full"}, timeout=remaining)

    def _append(self, line: HeldLine) -> None:
        assert self.conversation is not None
        self.conversation = attrs.evolve(self.conversation, lines=(*self.conversation.lines, line))

    def commit(self, answer: Line) -> None:
        """The turn is held: the answer, as its owner will send it back, ends the conversation."""
        assert self.conversation is not None and self.conversation.lines
        self._append(HeldLine(next_key(self.conversation.lines[-1].key, answer), None))

    async def _replay(self, line: Line, deadline: float, timeout_total: float) -> str | None:
        if line.role == "assistant":
            await self._send(_assistant_line(line))
            return None
        line_id = str(uuid.uuid4())
        await self._send(_user_line(line.content, line_id, query=False))
        # An un-awaited replayed line would be merged into the next one and break the order.
        while not isinstance(await self._next(deadline, timeout_total), Result):
            pass
        return line_id

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
        """Removes what the last turn added. False means: recycle this process instead."""
        task, self._reset_task = self._reset_task, None
        if task is not None:
            return await task
        return await self._rewind_to(self._turn_start)

    async def clear(self) -> bool:
        """Forgets the whole conversation (an idle held one nobody continued)."""
        return await self._rewind_to(0)

    async def _rewind_to(self, point: int, timeout: float = 2.0) -> bool:
        """Keeps the first `point` lines (or fewer, back to a user line), removes the rest."""
        held = self.conversation
        if held is None or point >= len(held.lines):
            return self.alive
        cut = resume_point(held, point)
        if cut < 0:
            return False
        try:
            resp = await self.control(
                {
                    "subtype": "rewind_conversation",
                    "target_message_uuid": held.lines[cut].uuid,
                    "last_seen_user_message_uuid": last_user_uuid(held),
                },
                timeout=timeout,
            )
        except (TimeoutError, SlotDied, ControlError) as exc:
            log.warning("slot_reset_failed", slot_id=self.slot_id, error=str(exc))
            return False
        if not resp.get("rewound"):
            log.warning("slot_reset_refused", slot_id=self.slot_id, reason=resp.get("reason"))
            return False
        self.conversation = attrs.evolve(held, lines=held.lines[:cut]) if cut else None
        self._turn_start = min(self._turn_start, cut)
        return True
