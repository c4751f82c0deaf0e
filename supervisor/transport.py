"""The process behind a small interface: start, write a JSON line, read events, close.

Shutdown escalates close stdin -> SIGTERM -> SIGKILL, each with a deadline, against the whole
process group, so a CLI that spawned helpers leaves no child behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import structlog

from supervisor.events import Event, ProcessExited
from supervisor.framing import FramingError, LineBuffer, decode_line, to_event

log = structlog.get_logger(__name__)


class Transport(Protocol):
    @property
    def pid(self) -> int | None: ...

    async def start(self) -> None: ...

    async def write(self, message: Mapping[str, Any]) -> None: ...

    def events(self) -> AsyncIterator[Event]: ...

    async def close(self, *, stdin_grace: float = 0.5, term_grace: float = 1.0) -> int | None: ...

    def signal_group(self, sig: int) -> None: ...

    def kill_now(self) -> None: ...


class TransportClosed(ConnectionError):
    """Writing to a process that has gone away."""


class SubprocessTransport:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> None:
        self._argv = list(argv)
        self._env = dict(env)
        self._cwd = cwd
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._stderr_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._closing: asyncio.Task[int | None] | None = None

    def __repr__(self) -> str:  # the env holds credentials: never print it
        return f"<SubprocessTransport pid={self.pid} argv0={self._argv[0]!r}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *_with_parent_death_signal(self._argv, self._env, self._cwd),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self._proc and self._proc.stderr
        while line := await self._proc.stderr.readline():
            self._stderr_tail.append(line.decode(errors="replace").rstrip())

    async def write(self, message: Mapping[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing() or proc.returncode is not None:
            raise TransportClosed("the CLI process is not running")
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        async with self._write_lock:
            try:
                proc.stdin.write(data)
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise TransportClosed(str(exc)) from exc

    async def events(self) -> AsyncIterator[Event]:
        assert self._proc and self._proc.stdout
        buf = LineBuffer()
        stdout = self._proc.stdout
        while True:
            chunk = await stdout.read(256 * 1024)
            try:
                lines = buf.feed(chunk) if chunk else buf.flush()
            except FramingError as exc:
                log.warning("cli_unparsed_line", error=str(exc))
                lines = []
            for line in lines:
                try:
                    event = to_event(decode_line(line))
                except (FramingError, ValueError, TypeError, AttributeError) as exc:
                    log.warning("cli_unparsed_line", error=str(exc))
                    continue
                yield event
            if not chunk:
                break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._proc.wait(), 2.0)
        if self._stderr_task:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 0.5)
        yield ProcessExited(self._proc.returncode, self.stderr_tail)

    def signal_group(self, sig: int) -> None:
        """Signals the running process's group (parking: SIGSTOP / SIGCONT); nothing once it ended."""
        if self._proc is not None and self._proc.returncode is None:
            self._signal_group(sig)

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def close(self, *, stdin_grace: float = 0.5, term_grace: float = 1.0) -> int | None:
        """Ends the process: close stdin, then SIGTERM, then SIGKILL, each after its grace.

        Shielded: a caller cancelled meanwhile (a shutdown deadline, a client gone) is cancelled
        at once, but the escalation runs on to its end, so no CLI outlives its close."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(stdin_grace, term_grace), name=f"close-{self.pid}")
        return await asyncio.shield(self._closing)

    async def _close(self, stdin_grace: float, term_grace: float) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            if proc.stdin and not proc.stdin.is_closing():
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), stdin_grace)
            except TimeoutError:
                self._signal_group(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), term_grace)
                except TimeoutError:
                    self._signal_group(signal.SIGKILL)
                    await proc.wait()
        # Helpers the CLI may have left in its group go too.
        self._signal_group(signal.SIGKILL)
        if proc.stdin and not proc.stdin.is_closing():
            proc.stdin.close()
        # Release the pipes now rather than in a finaliser that may run after the loop closed.
        pipe_transport = getattr(proc, "_transport", None)
        if pipe_transport is not None:
            pipe_transport.close()
        if self._stderr_task:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        return proc.returncode

    def kill_now(self) -> None:
        """Synchronous last resort; only while the process runs (its pid cannot have been reused)."""
        if self._proc is not None and self._proc.returncode is None:
            self._signal_group(signal.SIGKILL)


def _with_parent_death_signal(argv: list[str], env: Mapping[str, str] | None, cwd: str | None) -> list[str]:
    """The process gets SIGTERM if the bridge dies without closing it (SIGKILL, OOM kill): an
    orphaned CLI would otherwise finish (and pay for) its request before it notices. Linux's
    parent-death signal, set by util-linux's `setpriv` (in every Debian) right before it execs
    the CLI in place (same pid, same process group); without `setpriv` the process only ends once
    its stdin closes. The command is resolved as the exec would resolve it (the child's PATH, a
    relative path from its working directory) and handed to setpriv absolute; one that does not
    resolve is left unwrapped, so that its start fails naming it (not as setpriv's exit)."""
    setpriv = shutil.which("setpriv")
    command = _resolve(argv[0], env, cwd) if argv else None
    if setpriv is None or command is None:
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", command, *argv[1:]]


def _resolve(command: str, env: Mapping[str, str] | None, cwd: str | None) -> str | None:
    if "/" in command:
        path = os.path.join(cwd or os.getcwd(), command)
        return os.path.abspath(path) if os.path.isfile(path) and os.access(path, os.X_OK) else None
    found = shutil.which(command, path=os.pathsep.join(os.get_exec_path(env)))
    return os.path.abspath(found) if found else None
