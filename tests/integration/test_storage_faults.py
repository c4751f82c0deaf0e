"""A store that cannot be written: every change is a 503 `storage_unavailable`, and nothing is lost.

The file store's folder is made really read-only (a read-only bind mount: root ignores file
modes), and Redis really refuses writes (`min-replicas-to-write` with no replica). Reads keep
working, and once the store is writable again the same delete succeeds.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import Bridge, MakeBridge
from tests.openai_errors import assert_openai_error


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (CI and the development machines run as root)")
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextmanager
def redis_refusing_writes(url: str) -> Iterator[None]:
    client = redis.Redis.from_url(url)
    client.config_set("min-replicas-to-write", 1)
    try:
        yield
    finally:
        client.config_set("min-replicas-to-write", 0)
        client.close()


async def _fill(bridge: Bridge, http: httpx.AsyncClient) -> tuple[str, str]:
    """A session with one turn, and a stored response."""
    sid = "sess_faults"
    chat = await http.post(
        "/v1/chat/completions",
        headers={"X-Session-ID": sid},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<say:kept>>"}]},
    )
    assert chat.status_code == 200, chat.text
    stored = await http.post("/v1/responses", json={"model": "gpt-4o", "input": "<<say:stored>>"})
    assert stored.status_code == 200, stored.text
    return sid, stored.json()["id"]


async def _refused_and_kept(http: httpx.AsyncClient, sid: str, rid: str) -> None:
    for method, path in [
        ("DELETE", f"/v1/sessions/{sid}"),
        ("POST", f"/v1/sessions/{sid}/clear"),
        ("DELETE", f"/v1/responses/{rid}"),
        ("POST", "/v1/sessions"),
    ]:
        resp = await http.request(method, path)
        assert_openai_error(resp, 503, code="storage_unavailable")
        assert "storage is unavailable" in resp.json()["error"]["message"]
    session = await http.get(f"/v1/sessions/{sid}")
    assert session.status_code == 200 and session.json()["message_count"] == 2, "nothing was lost"
    assert (await http.get(f"/v1/responses/{rid}")).status_code == 200
    assert sid in [s["id"] for s in (await http.get("/v1/sessions")).json()["data"]]


async def _deleted_once_writable(http: httpx.AsyncClient, sid: str, rid: str) -> None:
    assert (await http.delete(f"/v1/sessions/{sid}")).status_code == 200
    assert (await http.delete(f"/v1/responses/{rid}")).status_code == 200
    assert (await http.get(f"/v1/sessions/{sid}")).status_code == 404


async def test_file_store_read_only(make_bridge: MakeBridge, tmp_path: Path) -> None:
    history = tmp_path / "ro-history"
    bridge = await make_bridge(POOL_SIZE="1", HISTORY_DIR=str(history))
    async with bridge.http() as http:
        sid, rid = await _fill(bridge, http)
        with read_only(history):
            await _refused_and_kept(http, sid, rid)
        await _deleted_once_writable(http, sid, rid)


async def test_redis_refusing_writes(make_bridge: MakeBridge, redis_url: str) -> None:
    bridge = await make_bridge(POOL_SIZE="1", HISTORY_STORAGE="redis", REDIS_URL=redis_url)
    async with bridge.http() as http:
        sid, rid = await _fill(bridge, http)
        with redis_refusing_writes(redis_url):
            await _refused_and_kept(http, sid, rid)
        await _deleted_once_writable(http, sid, rid)
