"""A hand-written stand-in for the CLI process's transport, for the pool faults the real CLI
cannot be made to show on demand (a start that fails, a process that exits while idle).

It is not the CLI: it answers `initialize`, replayed lines and rewinds as the measured CLI does
(docs/cli-findings.md), and nothing else. Every other test drives the real pinned CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from supervisor.events import ControlRequest, ControlResponse, Event, ProcessExited
from supervisor.framing import to_event


class StandInTransport:
    """Answers initialize; `fail_starts` makes the next starts fail; `exit()` ends the process."""

    fail_starts: ClassVar[int] = 0
    start_delay: ClassVar[float] = 0.0
    instances: ClassVar[list[StandInTransport]] = []

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self.pid: int | None = None
        StandInTransport.instances.append(self)

    async def start(self) -> None:
        await asyncio.sleep(StandInTransport.start_delay)
        if StandInTransport.fail_starts:
            StandInTransport.fail_starts -= 1
            raise OSError("stand-in start failure")
        self.pid = 10_000_000 + len(StandInTransport.instances)  # never a real process

    async def write(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "user" and message.get("shouldQuery") is False:
            # Like the CLI, a replayed line is answered by an empty result.
            self._events.put_nowait(to_event({"type": "result", "subtype": "success", "num_turns": 0, "usage": {}}))
        if message.get("type") == "control_request":
            body = {"rewound": True} if message["request"].get("subtype") == "rewind_conversation" else {"models": []}
            self._events.put_nowait(ControlResponse(str(message["request_id"]), True, body))
            if message["request"].get("subtype") == "mcp_set_servers" and message["request"].get("servers"):
                # Like the CLI, list the tools of a server that was just connected.
                listing = {"server_name": "c", "message": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}
                self._events.put_nowait(ControlRequest("cli_list", "mcp_message", listing))

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, ProcessExited):
                return

    def exit(self) -> None:
        self._events.put_nowait(ProcessExited(1, "stand-in exit"))

    async def close(self, *, stdin_grace: float = 0.5, term_grace: float = 1.0) -> int | None:
        self.exit()
        return 0

    def signal_group(self, sig: int) -> None:
        """No process to stop or continue (parking is measured on the real CLI)."""

    def kill_now(self) -> None:
        self.exit()
