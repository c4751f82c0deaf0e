"""The bridge learns at start, from the CLI's `initialize`, whether it can authenticate upstream.

Without credentials, /health says so (503, `"auth": "none"` and what to do), and a model request
fails at once with `upstream_not_authenticated`: never queued behind a CLI turn, never retried
by the bridge, and marked `x-should-retry: false` so the openai SDKs do not retry it either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import MakeBridge

FIX = ("ANTHROPIC_API_KEY", "claude auth login")


async def test_without_credentials_health_says_so_and_turns_fail_at_once(make_bridge: MakeBridge, logs: Any) -> None:
    bridge = await make_bridge(POOL_SIZE="1", ANTHROPIC_API_KEY=None)  # type: ignore[arg-type]
    async with bridge.http() as http:
        health = await http.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unauthenticated" and body["auth"] == "none" and body["auth_source"] is None
        assert all(fix in body["auth_help"] for fix in FIX)
        responses = await http.post("/v1/responses", json={"model": "gpt-4o", "input": "hi"})
    assert responses.status_code == 503 and responses.headers["x-should-retry"] == "false"
    assert responses.json()["error"]["code"] == "upstream_not_authenticated"

    client = bridge.client()  # the real openai client, with its default retries
    client = client.with_options(max_retries=2)
    with pytest.raises(openai.InternalServerError) as raised:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    err = raised.value.body
    assert isinstance(err, dict) and err["code"] == "upstream_not_authenticated"
    assert all(fix in err["message"] for fix in FIX)
    assert len([r for r in bridge.recorded if r[0].endswith("/chat/completions")]) == 1, "the client did not retry"
    assert not bridge.fake.messages_requests()
    assert bridge.pool.stats()["busy"] == 0
    started = [e for e in logs if e["event"] == "cli_not_authenticated"]
    assert started and all(fix in started[0]["help"] for fix in FIX)


@pytest.mark.parametrize(
    ("env", "kind", "source"),
    [
        ({}, "api_key", "ANTHROPIC_API_KEY"),
        (
            {"ANTHROPIC_API_KEY": None, "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-not-a-real-token"},
            "token",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ),
        ({"ANTHROPIC_API_KEY": None, "login": "yes"}, "login", "claude.ai"),
    ],
)
async def test_health_names_how_the_cli_authenticates_without_a_secret(
    make_bridge: MakeBridge, tmp_path: Path, env: dict[str, Any], kind: str, source: str
) -> None:
    if env.pop("login", None):
        # The shape `claude auth login` stores; the tokens are fake and never used here.
        creds = tmp_path / "user-home" / ".claude" / ".credentials.json"
        creds.parent.mkdir(parents=True)
        creds.write_text(
            json.dumps(
                {
                    "claudeAiOauth": {
                        "accessToken": "sk-ant-oat01-fake",
                        "refreshToken": "sk-ant-ort01-fake",
                        "expiresAt": 4102444800000,
                        "scopes": ["user:inference"],
                        "subscriptionType": "pro",
                    }
                }
            )
        )
    bridge = await make_bridge(POOL_SIZE="1", **env)
    async with bridge.http() as http:
        health = await http.get("/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert (body["status"], body["auth"], body["auth_source"]) == ("ok", kind, source)
    assert "sk-ant" not in health.text and "auth_help" not in body
