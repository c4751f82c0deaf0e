"""One live bridge per client module: the real app and CLI against the fake upstream.

The client libraries here are used exactly as their users use them: pointed at the bridge's
base URL with an API key and a model name, nothing patched. A bridge is shared by a module's
cases (each case is its own conversation), which
keeps the module's time to its turns rather than to process starts. It listens on a real
127.0.0.1 port, so out-of-process clients (node, the openai sdist's own pytest) reach it while
the test awaits them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Bridge, start_bridge, stop_bridge
from tests.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bridge]:
    fake = FakeUpstream()
    await fake.start()
    workdir = tmp_path_factory.mktemp("clients")
    # The openai sdist's generated cases ask for the placeholder model `gpt-6-astra`; an
    # operator offers such a name with MODEL_MAP, as a user of the bridge would.
    bridge = await start_bridge(fake, workdir, MODEL_MAP=json.dumps({"gpt-6-astra": "sonnet"}))
    try:
        yield bridge
    finally:
        await stop_bridge(bridge)
        await fake.stop()


def base_url(bridge: Bridge) -> str:
    return bridge.url + "/v1"


async def run_node(script: str, bridge: Bridge, timeout: float = 120) -> dict[str, Any]:
    """Runs tests/clients/js/<script> against the bridge; returns {case: {"value"|"error": ...}}."""
    if not (JS_DIR / "node_modules").is_dir():
        pytest.fail("the npm test clients are not installed: run `make test` (or `make clients`)")
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(JS_DIR / script),
        cwd=JS_DIR,
        env={**os.environ, "BRIDGE_BASE_URL": base_url(bridge)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    results: dict[str, Any] = {}
    for line in out.decode().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            results[entry.pop("case")] = entry
    assert proc.returncode == 0, f"node {script} exited {proc.returncode}: {err.decode()[-2000:]}"
    return results
