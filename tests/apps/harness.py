"""Drives a real agent app headless against a live bridge, cut off from every network but it.

Each run gets a fresh HOME (and XDG dirs) and runs under `unshare --net` (see netns.py): the
app reaches the bridge through a Unix socket the test serves with a `Tap`, which forwards to
the bridge's TCP port and keeps every byte both ways, so a test (or a failure message) can say
exactly what the app sent and what the bridge answered. The app runs in its own session: at
the end its whole process group is killed by id, and it runs in a PID namespace whose init
(netns.py) kills by pid whatever the app left running (a daemon started with setsid escapes the
group, not the namespace), so nothing it started outlives the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent
NODE_BIN = APPS / "js" / "node_modules" / ".bin"
VENVS = APPS / ".venv"
# What the apps must not do here, whatever their defaults: phone home, check for updates.
QUIET_ENV = {
    "NO_COLOR": "1",
    "TERM": "dumb",
    "CI": "1",
    "DO_NOT_TRACK": "1",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
}


@attrs.frozen
class Exchange:
    """One HTTP request the app sent through the tap, and the status line it got back."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int | None
    content_type: str | None = None

    @property
    def streamed(self) -> bool:
        """Whether the bridge answered with server-sent events."""
        return (self.content_type or "").startswith("text/event-stream")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    answer: bytes = b""

    def brief(self) -> str:
        """The request and the bridge's answer, shortened: for failure messages."""
        return f"{self.method} {self.path} {self.body[:300]!r}... -> {self.status} {self.answer[:600]!r}"


@attrs.define
class Tap:
    """A Unix socket in front of the bridge's TCP port that records both directions."""

    target_port: int
    path: str = attrs.field(factory=lambda: tempfile.mkdtemp(prefix="apptap", dir="/tmp") + "/s")
    _conversations: list[tuple[bytearray, bytearray]] = attrs.field(factory=list)
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = attrs.field(factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._connection, self.path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        Path(self.path).unlink(missing_ok=True)
        os.rmdir(os.path.dirname(self.path))

    def clear(self) -> None:
        self._conversations.clear()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent, answered = bytearray(), bytearray()
        self._conversations.append((sent, answered))
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        pumps = [
            asyncio.ensure_future(_pump(reader, up_writer, sent)),
            asyncio.ensure_future(_pump(up_reader, writer, answered)),
        ]
        for task in pumps:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.gather(*pumps, return_exceptions=True)

    def exchanges(self) -> list[Exchange]:
        """Every request the app sent, in order, paired with the status the bridge answered."""
        found: list[Exchange] = []
        for sent, answered in list(self._conversations):
            answers = _messages(bytes(answered))
            for i, (line, headers, body) in enumerate(_messages(bytes(sent))):
                method, path, _ = line.split(" ", 2)
                status, kind, answer = None, None, b""
                if i < len(answers):
                    head, got, answer = answers[i]
                    status, kind = int(head.split(" ")[1]), got.get("content-type")
                found.append(Exchange(method, path, headers, body, status, kind, answer))
        return found

    def answered(self) -> str:
        """Everything the bridge sent back, decoded: for failure messages."""
        return "\n".join(bytes(a).decode(errors="replace") for _, a in self._conversations)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, copy: bytearray) -> None:
    try:
        while data := await reader.read(65536):
            copy.extend(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass


def _messages(raw: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """HTTP/1.1 messages read back from one direction of a connection: (first line, headers, body).

    Bodies are delimited by Content-Length or chunked encoding; a response with neither (the
    bridge always sends one or the other) would be taken as empty.
    """
    out = []
    pos = 0
    while (end := raw.find(b"\r\n\r\n", pos)) != -1:
        head = raw[pos:end].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
        pos = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                eol = raw.find(b"\r\n", pos)
                if eol == -1:
                    break
                size = int(raw[pos:eol].split(b";")[0] or b"0", 16)
                pos = eol + 2
                if size == 0:
                    pos = raw.find(b"\r\n", pos) + 2
                    break
                body += raw[pos : pos + size]
                pos += size + 2
            data = bytes(body)
        else:
            length = int(headers.get("content-length", "0"))
            data, pos = raw[pos : pos + length], pos + length
        out.append((head[0], headers, data))
    return out


@attrs.frozen
class AppRun:
    returncode: int
    stdout: str
    stderr: str

    def output(self) -> str:
        return self.stdout + self.stderr


def succeeded(run: AppRun, tap: Tap) -> AppRun:
    """The app exited 0; else the failure shows its output and its last exchanges with the bridge."""
    assert run.returncode == 0, run.output() + "\n" + "\n".join(x.brief() for x in tap.exchanges()[-4:])
    return run


def fresh_home(root: Path) -> dict[str, str]:
    """HOME and the XDG dirs inside root, created: an app sees no user's settings."""
    dirs = {
        "HOME": root,
        "XDG_CONFIG_HOME": root / ".config",
        "XDG_DATA_HOME": root / ".local" / "share",
        "XDG_STATE_HOME": root / ".local" / "state",
        "XDG_CACHE_HOME": root / ".cache",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in dirs.items()}


def require(path: Path) -> Path:
    """An installed app's executable, or a clear failure naming the make target."""
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test` (or `make apps`)")
    return path


async def run_app(
    argv: Sequence[str | os.PathLike[str]],
    *,
    tap: Tap,
    port: int,
    home: Path,
    cwd: Path,
    env: Mapping[str, str] = {},
    timeout: float = 90,
) -> AppRun:
    """Runs argv in a fresh network namespace (only 127.0.0.1:port, the bridge, is reachable)."""
    full_env = {
        "PATH": os.pathsep.join([str(NODE_BIN), os.environ["PATH"]]),
        "LANG": "C.UTF-8",
        **fresh_home(home),
        **QUIET_ENV,
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        "unshare",
        # Root creates the namespaces as it is; anyone else through a user namespace of their own.
        *([] if os.geteuid() == 0 else ["--map-root-user"]),
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--",
        sys.executable,
        "-m",
        "tests.apps.netns",
        str(port),
        tap.path,
        "--",
        *map(str, argv),
        cwd=cwd,
        env={**full_env, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        out, err = await proc.communicate()
        raise AssertionError(
            f"{argv[0]} did not finish in {timeout} s\nstdout: {out.decode()[-3000:]}\nstderr: {err.decode()[-3000:]}"
            f"\nthe last requests: {[x.brief() for x in tap.exchanges()[-4:]]}"
        ) from None
    finally:
        _kill_group(proc.pid)
    return AppRun(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


def _kill_group(pgid: int) -> None:
    """Ends whatever the app left running: its process group, by the id it was started with."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
