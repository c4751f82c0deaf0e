"""Shared fixtures: the fake upstream, the bridge built by the real `create_app`, real clients.

Every test runs the real pinned Claude CLI (installed by `make setup`) against a fake
Anthropic Messages API on 127.0.0.1, with a HOME of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import openai
import pytest
import structlog
from aiohttp.test_utils import TestServer

from bridge.app import create_app
from bridge.config import PINNED_CLI, Config
from bridge.logs import configure
from supervisor.pool import Pool
from tests.fake_upstream import FakeUpstream
from tests.openapi import assert_valid, sse_payloads

configure("INFO")
ROOT_DIR = Path(__file__).resolve().parent.parent


UNIT_DIR = Path(__file__).resolve().parent / "unit"


@pytest.fixture(scope="session", autouse=True)
def _own_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Nothing in the suite may read or write the real user's ~/.claude.

    The pure tests (tests/unit, `make unit`) need no CLI; any other test does, and a missing one
    ends the run with a clear message instead of a hundred failures.
    """
    cli = cli_under_test()
    needs_cli = any(not Path(item.path).is_relative_to(UNIT_DIR) for item in request.session.items)
    if needs_cli and not cli.exists():
        pytest.exit(f"the Claude CLI under test is missing at {cli}: run `make setup`", returncode=3)
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    upstream = FakeUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()


@attrs.define
class Bridge:
    server: TestServer
    pool: Pool
    fake: FakeUpstream
    recorded: list[tuple[str, int, bytes]] = attrs.field(factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def client(self, api_key: str = "sk-test", **kwargs: Any) -> openai.AsyncOpenAI:
        """The real openai client, strict, with every chat response recorded for validation."""
        return openai.AsyncOpenAI(
            base_url=self.url + "/v1",
            api_key=api_key,
            max_retries=0,
            _strict_response_validation=True,
            http_client=httpx.AsyncClient(transport=_Recorder(self.recorded), timeout=60),
            **kwargs,
        )

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60, transport=_Recorder(self.recorded))


class _Recorder(httpx.AsyncBaseTransport):
    """Keeps a copy of every chat-completions response body as the client reads it."""

    def __init__(self, sink: list[tuple[str, int, bytes]]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._sink = sink

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/chat/completions"):
            return response
        entry = [request.url.path, response.status_code, bytearray()]
        inner_stream = response.stream
        sink = self._sink

        class Tee(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in inner_stream:  # type: ignore[union-attr]
                    entry[2].extend(chunk)
                    yield chunk
                sink.append((entry[0], entry[1], bytes(entry[2])))

            async def aclose(self) -> None:
                await inner_stream.aclose()  # type: ignore[union-attr]

        return httpx.Response(
            response.status_code, headers=response.headers, stream=Tee(), extensions=response.extensions
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def validate_recorded(recorded: list[tuple[str, int, bytes]]) -> int:
    """Checks every successful chat response against OpenAI's schemas; returns how many."""
    checked = 0
    for _path, status, body in recorded:
        if status != 200 or not body:
            continue
        if body.lstrip().startswith(b"{"):
            assert_valid("CreateChatCompletionResponse", json.loads(body))
            checked += 1
            continue
        for payload in sse_payloads(body):
            if payload == "[DONE]":
                continue
            data = json.loads(payload)
            if "error" in data:
                continue
            assert_valid("CreateChatCompletionStreamResponse", data)
            checked += 1
    return checked


MakeBridge = Callable[..., Awaitable[Bridge]]


def cli_under_test() -> Path:
    """The CLI the suite drives: the pinned one, or BRIDGE_TEST_CLI (`make test-cli-latest`)."""
    override = os.environ.get("BRIDGE_TEST_CLI")
    return Path(override).resolve() if override else PINNED_CLI


async def start_bridge(
    fake: FakeUpstream, workdir: Path, wait: bool = True, clock: Callable[[], float] | None = None, **env: str
) -> Bridge:
    """The real app from `create_app`, served on 127.0.0.1 (a real port other processes can reach).
    `clock` replaces the wall clock plan-window resets are compared with."""
    base = {
        "PATH": os.environ["PATH"],
        "CLAUDE_COMMAND": str(cli_under_test()),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-ant-test-dummy",
        "HOME": str(workdir / "user-home"),
        "POOL_SIZE": "2",
        "REQUEST_TIMEOUT": "30",
        "MAX_RETRIES": "2",
        "SLOT_DIR": str(workdir / "slots"),
        "SHUTDOWN_GRACE": "2",
        "HISTORY_DIR": str(workdir / "history"),
    }
    base.update(env)
    config = Config.from_env({k: v for k, v in base.items() if v is not None})
    app = create_app(config)
    from bridge import appkeys

    if clock is not None:
        app[appkeys.CLOCK] = clock
    server = TestServer(app, handler_cancellation=True)
    await server.start_server()
    pool = app[appkeys.POOL]
    bridge = Bridge(server, pool, fake)
    if wait:
        assert await pool.wait_ready(30), f"pool never became ready: {pool.last_start_error}"
    return bridge


async def stop_bridge(bridge: Bridge) -> None:
    """Closes the server; no slot stays busy, no CLI process outlives it, every recorded body is valid."""
    from bridge import appkeys

    pools = bridge.server.app[appkeys.UPSTREAMS].pools()
    for pool in pools:
        await _no_slot_left_busy(pool)
    pids = [pid for pool in pools for pid in pool.pids()]
    await bridge.server.close()
    for pid in pids:
        assert not _alive(pid), f"CLI process {pid} outlived the server"
    validate_recorded(bridge.recorded)


@pytest.fixture
async def make_bridge(fake: FakeUpstream, tmp_path: Path) -> AsyncIterator[MakeBridge]:
    made: list[Bridge] = []

    async def make(wait: bool = True, clock: Callable[[], float] | None = None, **env: str) -> Bridge:
        env.setdefault("SLOT_DIR", str(tmp_path / f"slots{len(made)}"))
        env.setdefault("HISTORY_DIR", str(tmp_path / "history"))
        bridge = await start_bridge(fake, tmp_path, wait=False, clock=clock, **env)
        made.append(bridge)
        if wait:
            from bridge import appkeys

            for pool in bridge.server.app[appkeys.UPSTREAMS].pools():
                assert await pool.wait_ready(30), f"pool never became ready: {pool.last_start_error}"
        return bridge

    yield make
    for bridge in made:
        await stop_bridge(bridge)


async def _no_slot_left_busy(pool: Pool) -> None:
    """Every turn gives its slot back: once the test's requests are over, none stays busy."""
    from supervisor.slot import SlotState

    for _ in range(100):
        busy = [s for s in pool.slots() if s.state is SlotState.BUSY]
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"slots still busy after the test: {busy}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
async def bridge(make_bridge: MakeBridge) -> Bridge:
    return await make_bridge()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on loopback, started for this test run (`make test` installs it)."""
    import socket
    import subprocess
    import time

    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def logs() -> Any:
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured:
        yield captured
