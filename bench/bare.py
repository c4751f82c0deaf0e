"""The floor: one warm CLI process driven directly over stream-json, with nothing around it.

Deliberately independent of the supervisor, so the bridge's overhead is measured against the
CLI itself rather than against our own code.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any


class BareCli:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.argv, self.env, self.cwd = argv, env, cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=-1,
            stdout=-1,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            limit=1 << 24,
        )
        await self._send(
            {"type": "control_request", "request_id": "init", "request": {"subtype": "initialize", "hooks": None}}
        )
        await self._until(lambda m: m.get("type") == "control_response")

    async def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        await self.proc.stdin.drain()

    async def _until(self, pred: Any) -> dict[str, Any]:
        assert self.proc and self.proc.stdout
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the CLI exited")
            msg = json.loads(line)
            if pred(msg):
                return msg

    async def turn(self, text: str) -> tuple[float, float]:
        """(time to first text delta, time to result) in seconds; then rewinds, untimed."""
        line_id = str(uuid.uuid4())
        t0 = time.perf_counter()
        await self._send(
            {
                "type": "user",
                "message": {"role": "user", "content": text},
                "parent_tool_use_id": None,
                "session_id": "default",
                "uuid": line_id,
            }
        )
        first = None
        assert self.proc and self.proc.stdout
        while True:
            msg = json.loads(await self.proc.stdout.readline())
            if (
                first is None
                and msg.get("type") == "stream_event"
                and msg["event"].get("type") == "content_block_delta"
            ):
                first = time.perf_counter() - t0
            if msg.get("type") == "result":
                total = time.perf_counter() - t0
                break
        await self._send(
            {
                "type": "control_request",
                "request_id": "rw" + line_id[:8],
                "request": {
                    "subtype": "rewind_conversation",
                    "target_message_uuid": line_id,
                    "last_seen_user_message_uuid": line_id,
                },
            }
        )
        await self._until(lambda m: m.get("type") == "control_response")
        return (first or total), total

    async def close(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def cold_turn(argv: list[str], env: dict[str, str], cwd: str, text: str) -> tuple[float, float]:
    """One `claude -p` per request, prompt on stdin, as the seed-style bridges run it."""
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=-1, stdout=-1, stderr=asyncio.subprocess.DEVNULL, env=env, cwd=cwd, limit=1 << 24
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(text.encode())
    proc.stdin.close()
    first = None
    total = None
    while line := await proc.stdout.readline():
        msg = json.loads(line)
        if first is None and msg.get("type") == "stream_event" and msg["event"].get("type") == "content_block_delta":
            first = time.perf_counter() - t0
        if msg.get("type") == "result":
            total = time.perf_counter() - t0
    await proc.wait()
    assert total is not None, "the cold CLI produced no result"
    return (first or total), total
