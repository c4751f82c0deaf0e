"""SIGTERM on the real server process: in-flight streams finish, exit code 0, no child left."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from bench.bench import children
from tests.conftest import ROOT_DIR, _alive, cli_under_test
from tests.fake_upstream import FakeUpstream


async def test_sigterm_drains_in_flight_streams_and_exits_zero(fake: FakeUpstream, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CLAUDE_COMMAND": str(cli_under_test()),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "PORT": str(port),
        "POOL_SIZE": "2",
        "SHUTDOWN_GRACE": "10",
        "HISTORY_DIR": str(tmp_path / "h"),
        "SLOT_DIR": str(tmp_path / "slots"),
        "HOME": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT_DIR / "run.py"), env=env, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(200):
            try:
                if (await http.get("/health")).json()["pool"]["warm"] == 2:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.1)
        cli_pids = children(proc.pid)
        assert len(cli_pids) == 2
        body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "<<words:8>> <<gap:250>>"}]}
        async with http.stream("POST", "/v1/chat/completions", json=body) as resp:
            lines = resp.aiter_lines()
            first = await anext(lines)
            assert first.startswith("data: ")
            proc.send_signal(signal.SIGTERM)
            rest = [line async for line in lines]
    payloads = [line[6:] for line in [first, *rest] if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]", "the in-flight stream finished"
    text = "".join(json.loads(p)["choices"][0]["delta"].get("content") or "" for p in payloads[:-1])
    assert text == "w1 w2 w3 w4 w5 w6 w7 w8"
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    for pid in cli_pids:
        assert not _alive(pid), f"CLI process {pid} outlived the server"
