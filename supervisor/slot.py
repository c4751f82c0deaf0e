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
    Event,
    ProcessExited,
    Result,
)
from supervisor.fetch_guard import fetch_addresses
from supervisor.launch import MCP_SERVER, ClientTool, LaunchProfile
from supervisor.process import CliProcess, SlotState, assistant_line, user_line
from supervisor.transport import Transport
from supervisor.turn import Line, TurnSettings, TurnSpec

__all__ = ["Slot", "SlotState"]

log = structlog.get_logger(__name__)


class Slot(CliProcess):
    def __init__(self, slot_id: str, profile: LaunchProfile, transport: Transport) -> None:
        super().__init__(slot_id, transport)
        self.profile = profile
        self.turns_served = 0
        self.model: str | None = None
        self.models: list[dict[str, Any]] = []
        self.account: dict[str, Any] | None = None  # how the CLI authenticates (see supervisor.auth)
        self.last_used = time.monotonic()
        self.ready_at = 0.0  # monotonic time it answered initialize and warmed up
        self.returning = False  # its last turn continued the conversation it held
        self.comes_back_blank = False  # its current turn leaves nothing on it (placement.comes_back_blank)
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

    # -- process life -------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Spawns the process and waits for its answer to `initialize`: the ready signal."""
        await self._open()
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
        self.ready_at = time.monotonic()
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

    # -- what the process offers --------------------------------------------------------

    async def _decide(self, req: ControlRequest) -> dict[str, Any] | None:
        """The bridge's MCP server for the client's tools, and the tool gate."""
        if req.subtype == "can_use_tool":
            log.info(
                "cli_tool_use_refused", slot_id=self.slot_id, subtype=req.subtype, tool=req.request.get("tool_name")
            )
            return {"behavior": "deny", "message": DENY_REASON}
        if req.subtype == "hook_callback":
            body = hook_decision(self.offer, req.request, await fetch_addresses(req.request))
            if (body.get("hookSpecificOutput") or {}).get("permissionDecision") == "deny":
                tool = (req.request.get("input") or {}).get("tool_name")
                log.info("cli_tool_use_refused", slot_id=self.slot_id, subtype=req.subtype, tool=tool)
            return body
        if req.subtype == "mcp_message":
            return mcp_reply(self.offer, req.request)
        return None

    def _answered(self, req: ControlRequest, body: dict[str, Any]) -> None:
        if req.subtype == "mcp_message" and (req.request.get("message") or {}).get("method") == "tools/list":
            self._listed.set()

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
        await self._send(user_line(spec.message, line_id, query=True))
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
            await self._send(assistant_line(line))
            return None
        line_id = str(uuid.uuid4())
        await self._send(user_line(line.content, line_id, query=False))
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
