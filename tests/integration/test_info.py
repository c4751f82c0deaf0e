"""GET /, /health and the model list; the server's own logs."""

from __future__ import annotations

import asyncio
import subprocess

import openai
import pytest

from tests.conftest import Bridge, cli_under_test

# The version the CLI under test reports: the pin, or the newest CLI (`make test-cli-latest`).
CLI_VERSION = subprocess.run([cli_under_test(), "--version"], capture_output=True, text=True).stdout.split()[0]


async def test_index(bridge: Bridge) -> None:
    async with bridge.http() as http:
        body = (await http.get("/")).json()
    assert body["name"] == "Claude OpenAI Bridge"
    assert body["cli_version"] == CLI_VERSION
    assert body["features"]["chat_completions"] is True
    assert body["links"]["models"] == "/v1/models"


async def test_health_reports_the_pool(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["cli_version"] == CLI_VERSION
    assert body["pool"]["warm"] == 2 and body["pool"]["busy"] == 0 and body["pool"]["starting"] == 0
    assert body["queue_depth"] == 0


async def test_health_is_503_when_no_slot_can_start(make_bridge, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(wait=False, CLAUDE_COMMAND=str(tmp_path / "no-such-claude"), POOL_SIZE="1")
    async with bridge.http() as http:
        for _ in range(100):
            resp = await http.get("/health")
            if resp.status_code == 503:
                break
            await asyncio.sleep(0.1)
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "unavailable"
        assert "no-such-claude" in body["last_start_error"]
        chat = await http.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
        )
    assert chat.status_code == 503
    assert chat.json()["error"]["code"] == "cli_unavailable"


async def test_models_list_and_retrieve(bridge: Bridge) -> None:
    client = bridge.client()
    ids = [m.id async for m in client.models.list()]
    for expected in ("gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "o3", "sonnet", "opus", "haiku", "claude-sonnet-5-5"):
        assert expected in ids
    model = await client.models.retrieve("gpt-4o")
    assert model.id == "gpt-4o" and model.object == "model"
    assert (await client.models.retrieve("gpt-4-0613")).id == "gpt-4-0613"
    with pytest.raises(openai.NotFoundError) as info:
        await client.models.retrieve("llama-3")
    assert info.value.code == "model_not_found"


async def test_request_id_is_echoed_and_bound_to_logs(bridge: Bridge, logs) -> None:  # type: ignore[no-untyped-def]
    async with bridge.http() as http:
        resp = await http.post(
            "/v1/chat/completions",
            headers={"X-Request-ID": "trace-abc-123"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<say:hi>>"}], "user": "alice"},
        )
    assert resp.headers["X-Request-ID"] == "trace-abc-123"
    access = [e for e in logs if e["event"] == "request" and e.get("path") == "/v1/chat/completions"]
    assert access and access[0]["request_id"] == "trace-abc-123"
    assert access[0]["status"] == 200
    assert access[0]["slot_id"].startswith("s") and access[0]["user"] == "alice"
    assert not any("<<say:hi>>" in str(e) for e in logs), "message contents are not logged"


async def test_generated_request_id_when_none_is_sent(bridge: Bridge) -> None:
    async with bridge.http() as http:
        resp = await http.get("/v1/models")
    assert resp.headers["X-Request-ID"].startswith("req_")
