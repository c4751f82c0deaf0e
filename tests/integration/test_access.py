"""API keys, rate limits, CORS, security modes, /v1/security and /metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest

from tests.conftest import Bridge

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "<<say:ok>>"}]}


async def test_api_keys_guard_every_v1_route(make_bridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# one key per line\nsk-from-file\n")
    bridge = await make_bridge(POOL_SIZE="1", API_KEYS="sk-one, sk-two", API_KEYS_FILE=str(keys_file))
    async with bridge.http() as http:
        for path in ("/v1/models", "/v1/sessions", "/v1/responses", "/v1/security"):
            missing = await http.get(path)
            assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
            wrong = await http.get(path, headers={"Authorization": "Bearer sk-nope"})
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert (await http.get("/v1/models", headers={"Authorization": "Bearer sk-two"})).status_code == 200
        assert (await http.get("/v1/models", headers={"api-key": "sk-from-file"})).status_code == 200
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        body = (await http.get("/v1/security", headers={"Authorization": "Bearer sk-one"})).json()
        assert body["api_keys_required"] is True and body["api_keys_configured"] == 3
        assert "sk-one" not in json.dumps(body)
    resp = await bridge.client(api_key="sk-one").chat.completions.create(**CHAT)  # type: ignore[call-overload]
    assert resp.choices[0].message.content == "ok"
    with pytest.raises(openai.AuthenticationError):
        await bridge.client(api_key="sk-bad").models.list()


async def test_metrics_can_require_a_key(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", API_KEYS="k1", METRICS_REQUIRE_KEY="true")
    async with bridge.http() as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": "Bearer k1"})).status_code == 200


async def test_requests_per_minute_per_key(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", API_KEYS="ka,kb", RATE_LIMIT_RPM="3")
    async with bridge.http() as http:
        statuses = []
        for _ in range(4):
            resp = await http.get("/v1/models", headers={"Authorization": "Bearer ka"})
            statuses.append(resp.status_code)
        assert statuses == [200, 200, 200, 429]
        assert resp.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(resp.headers["Retry-After"]) >= 1
        other = await http.get("/v1/models", headers={"Authorization": "Bearer kb"})
        assert other.status_code == 200, "each key has its own budget"
        assert other.headers["x-ratelimit-limit-requests"] == "3"
        assert other.headers["x-ratelimit-remaining-requests"] == "2"
        assert other.headers["x-ratelimit-reset-requests"].endswith("s")
        streamed = await http.post(
            "/v1/chat/completions", headers={"Authorization": "Bearer kb"}, json={**CHAT, "stream": True}
        )
        assert streamed.headers["x-ratelimit-remaining-requests"] == "1", "also on streamed responses"


async def test_concurrent_turns_per_key(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="2", RATE_LIMIT_CONCURRENT="1", REQUEST_TIMEOUT="3")
    async with bridge.http() as http:
        hanging = asyncio.create_task(
            http.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "<<hang>> rl"}]},
            )
        )
        for _ in range(100):
            if bridge.fake.find("rl"):
                break
            await asyncio.sleep(0.02)
        second = await http.post("/v1/chat/completions", json=CHAT)
        assert second.status_code == 429 and "concurrent" in second.json()["error"]["message"]
        assert (await http.get("/v1/models")).status_code == 200, "only turns count as concurrent"
        assert (await hanging).status_code == 504


async def test_cors_is_off_by_default_and_configurable(make_bridge) -> None:  # type: ignore[no-untyped-def]
    closed = await make_bridge(POOL_SIZE="1")
    async with closed.http() as http:
        pre = await http.options(
            "/v1/chat/completions", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 404
        plain = await http.get("/v1/models", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in plain.headers
    opened = await make_bridge(POOL_SIZE="1", CORS_ORIGINS="https://app.example")
    async with opened.http() as http:
        pre = await http.options(
            "/v1/chat/completions", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 204
        assert "Authorization" in pre.headers["access-control-allow-headers"]
        plain = await http.get("/v1/models", headers={"Origin": "https://app.example"})
        assert plain.headers["access-control-allow-origin"] == "https://app.example"
        other = await http.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("mode", [{}, {"SECURITY_MODE": "web"}, {"RESTRICTED_MODE": "true"}])
async def test_probes_change_nothing_and_reveal_nothing(make_bridge, tmp_path: Path, mode: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE-42")
    bridge = await make_bridge(POOL_SIZE="1", **mode)
    client = bridge.client()
    for probe in (
        f"<<bash:touch {tmp_path}/bash-ran>>",
        f"<<write:{tmp_path}/write-ran>>",
        f'<<tool:Read:{{"file_path": "{secret}"}}>>',
        '<<tool:Glob:{"pattern": "*"}>>',
        "<<tool:NotARealTool:{}>>",
    ):
        resp = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": probe}])
        assert resp.choices[0].message.content
    assert not (tmp_path / "bash-ran").exists() and not (tmp_path / "write-ran").exists()
    everything = json.dumps([r.body for r in bridge.fake.messages_requests()])
    assert "TOP-SECRET-VALUE-42" not in everything, "the file's content never reached the model"
    offered = {t["name"] for r in bridge.fake.messages_requests() for t in r.body.get("tools", [])}
    assert not offered & {"Bash", "Write", "Read", "Glob", "Edit", "NotARealTool"}
    if mode:
        assert {"WebFetch", "WebSearch"} <= offered
    async with bridge.http() as http:
        sec = (await http.get("/v1/security")).json()
    assert sec["mode"] == ("web" if mode else "none")
    assert sec["cli_tools"] == (["WebSearch", "WebFetch"] if mode else [])


async def test_allowed_and_disallowed_tools(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(POOL_SIZE="1", SECURITY_MODE="web", DISALLOWED_TOOLS="WebFetch")
    await bridge.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "t <<say:x>>"}])
    (req,) = bridge.fake.find("t <<say")
    offered = {t["name"] for t in req.body.get("tools", [])}
    assert "WebSearch" in offered and "WebFetch" not in offered


async def test_metrics_report_requests_slots_and_tokens(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<usage:7:3:0:0>>"}])
    stream = await client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "<<words:2>>"}]
    )
    _ = [c async for c in stream]
    async with bridge.http() as http:
        text = (await http.get("/metrics")).text
    assert 'bridge_requests_total{method="POST",route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'bridge_tokens_total{direction="out"}' in text and 'bridge_tokens_total{direction="in"}' in text
    assert "bridge_time_to_first_token_seconds_count 2.0" in text
    assert "bridge_queue_wait_seconds_count 2.0" in text
    assert 'bridge_slots{state="warm"}' in text and "bridge_queue_depth 0.0" in text
    assert "bridge_process_restarts_total 0.0" in text and "bridge_retries_total 0.0" in text
