"""Plan limits in the open and several upstream accounts, with the real CLI.

The fake upstream plays each account's plan per credential (the unified rate-limit headers the
CLI reads); the CLI's `rate_limit_event` lines are the bridge's only source. The tests' clock
replaces the wall clock the bridge compares plan resets with.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import openai
import pytest

from bridge import appkeys
from tests.conftest import Bridge, MakeBridge
from tests.fake_upstream import FakeUpstream, block_text

TOKEN_A = "sk-ant-oat01-account-a-secret"
TOKEN_B = "sk-ant-oat01-account-b-secret"
TWO = json.dumps([{"name": "a", "oauth_token": TOKEN_A}, {"name": "b", "oauth_token": TOKEN_B}])


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def plan(fake: FakeUpstream, cred: str, **kwargs: Any) -> int:
    """Gives `cred` a plan whose 5-hour window resets in 2 h; returns that reset."""
    reset = int(time.time()) + 7200
    fake.plan(cred, five_hour_reset=reset, seven_day_reset=reset + 86400, **kwargs)
    return reset


async def ask(bridge: Bridge, text: str, **kwargs: Any) -> str:
    reply = await bridge.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], **kwargs
    )
    return reply.choices[0].message.content or ""


async def limits(bridge: Bridge, key: str = "sk-test") -> dict[str, dict[str, Any]]:
    async with bridge.http() as http:
        got = await http.get("/v1/limits", headers={"Authorization": f"Bearer {key}"})
    assert got.status_code == 200, got.text
    return {a["name"]: a for a in got.json()["data"]}


async def scrape(bridge: Bridge) -> str:
    async with bridge.http() as http:
        return (await http.get("/metrics")).text


def gauge(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


async def test_a_rejected_account_hands_its_turns_to_the_next_until_its_reset(make_bridge: MakeBridge) -> None:
    clock = Clock()
    bridge = await make_bridge(POOL_SIZE="2", UPSTREAM_ACCOUNTS=TWO, clock=clock)
    fake = bridge.fake
    reset = plan(fake, TOKEN_A, five_hour=0.42, seven_day=0.13)
    plan(fake, TOKEN_B, five_hour=0.05, seven_day=0.01)
    clock.now = time.time()  # the bridge's clock starts where the plan's reset was counted from

    assert await ask(bridge, "first <<say:from-a>>") == "from-a"
    assert [r.credential for r in fake.find("first")] == [TOKEN_A], "the first account serves while it can"
    shown = await limits(bridge)
    assert shown["a"]["windows"]["five_hour"]["utilization"] == 0.42
    assert shown["a"]["windows"]["seven_day"]["utilization"] == 0.13
    assert shown["a"]["windows"]["five_hour"]["resets_at"] == reset
    assert shown["a"]["limited"] is False and shown["b"]["windows"] == {}, "b has not answered yet"
    metrics = await scrape(bridge)
    assert gauge(metrics, "bridge_plan_window_utilization", account="a", window="five_hour") == 0.42
    assert gauge(metrics, "bridge_plan_window_utilization", account="a", window="seven_day") == 0.13
    assert gauge(metrics, "bridge_upstream_limited", account="a") == 0

    fake.plans[TOKEN_A].rejected, fake.plans[TOKEN_A].five_hour = "five_hour", 1.0
    assert await ask(bridge, "second <<say:one answer>>") == "one answer"
    assert [r.credential for r in fake.find("second")] == [TOKEN_A, TOKEN_B], "refused once by a, answered by b"
    assert await ask(bridge, "third") == "Hello from the fake upstream."
    assert [r.credential for r in fake.find("third")] == [TOKEN_B], "a gets no turn until its reset"

    shown = await limits(bridge)
    assert shown["a"]["limited"] is True and shown["a"]["limited_window"] == "five_hour"
    assert shown["a"]["limited_until"] == reset and shown["a"]["windows"]["five_hour"]["status"] == "rejected"
    assert abs(shown["a"]["retry_after_s"] - 7200) <= 5
    assert shown["b"]["limited"] is False and shown["b"]["windows"]["five_hour"]["utilization"] == 0.05
    async with bridge.http() as http:
        health = (await http.get("/health")).json()
    (a,) = [u for u in health["upstream_accounts"] if u["name"] == "a"]
    assert a["limited"] is True and a["limited_until"] == reset and a["kind"] == "oauth_token"
    metrics = await scrape(bridge)
    assert gauge(metrics, "bridge_upstream_limited", account="a") == 1
    assert gauge(metrics, "bridge_plan_window_rejected", account="a", window="five_hour") == 1
    assert gauge(metrics, "bridge_upstream_limited", account="b") == 0
    await promtool_accepts(metrics)

    clock.now = reset + 1  # the window has reset: a takes turns again
    fake.plans[TOKEN_A].rejected, fake.plans[TOKEN_A].five_hour = None, 0.0
    assert await ask(bridge, "fourth") == "Hello from the fake upstream."
    assert [r.credential for r in fake.find("fourth")] == [TOKEN_A]
    assert (await limits(bridge))["a"]["limited"] is False


async def promtool_accepts(scraped: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs it (Debian's prometheus package)")
    check = await asyncio.create_subprocess_exec(promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, err = await check.communicate(scraped.encode())
    assert check.returncode == 0 and not out.strip(), (out + err).decode()


async def test_the_only_account_out_of_its_window_answers_429_with_the_reset(make_bridge: MakeBridge) -> None:
    """Today's single-account configuration (an OAuth token in the environment, no
    UPSTREAM_ACCOUNTS): the client learns which window ran out and when it resets, and the
    upstream sees no further request until then."""
    clock = Clock()
    bridge = await make_bridge(POOL_SIZE="1", ANTHROPIC_API_KEY=None, CLAUDE_CODE_OAUTH_TOKEN=TOKEN_A, clock=clock)
    fake = bridge.fake
    reset = plan(fake, TOKEN_A, five_hour=1.0, seven_day=0.5, rejected="five_hour")
    clock.now = time.time()
    for attempt in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            await ask(bridge, f"limited{attempt}")
        response = caught.value.response
        assert response.status_code == 429
        assert abs(int(response.headers["Retry-After"]) - 7200) <= 5
        error = response.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
        assert "5-hour" in error["message"]
        assert time.strftime("%H:%M:%S UTC", time.gmtime(reset)) in error["message"]
    assert len(fake.by(TOKEN_A)) == 1, "refused once, never retried, and not asked again until the reset"

    clock.now = reset - 60
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(bridge, "still limited")
    assert 55 <= int(caught.value.response.headers["Retry-After"]) <= 65
    assert len(fake.by(TOKEN_A)) == 1
    clock.now = reset + 1
    fake.plans[TOKEN_A].rejected = None
    assert await ask(bridge, "after the reset") == "Hello from the fake upstream."
    assert len(fake.by(TOKEN_A)) == 2


@pytest.mark.parametrize(("status", "retry_after"), [(529, None), (429, None), (429, 3.0)])
async def test_an_overloaded_account_is_retried_with_backoff_then_the_next_serves(
    make_bridge: MakeBridge, status: int, retry_after: float | None, logs: list[dict[str, Any]]
) -> None:
    """529, and a 429 that is no plan window (its rate_limit_event names no window), are retried
    on the account with jittered backoff, then moved on. The CLI shows no Retry-After, so one
    sent with a 429 changes nothing."""
    clock = Clock()
    bridge = await make_bridge(POOL_SIZE="2", UPSTREAM_ACCOUNTS=TWO, MAX_RETRIES="2", clock=clock)
    fake = bridge.fake
    fake.fail(TOKEN_A, status, times=3, retry_after=retry_after)
    assert await ask(bridge, "busy <<say:served by b>>") == "served by b"
    tried = fake.find("busy")
    assert [r.credential for r in tried] == [TOKEN_A] * 3 + [TOKEN_B]
    retries = [e for e in logs if e["event"] == "turn_retry"]
    assert [(e["attempt"], e["status"]) for e in retries] == [(1, status), (2, status)]
    assert 0 <= retries[0]["wait_s"] <= 0.5 and 0 <= retries[1]["wait_s"] <= 1.0, "full jitter, doubling"
    assert [e["account"] for e in logs if e["event"] == "upstream_failover"] == ["a"]
    shown = (await limits(bridge))["a"]
    assert shown["limited"] is False, "an overload is not a plan limit"
    assert shown["cooling_down_until"] == clock.now + 30
    assert await ask(bridge, "meanwhile") == "Hello from the fake upstream."
    assert [r.credential for r in fake.find("meanwhile")] == [TOKEN_B], "a is passed over for 30 s"
    clock.now += 31
    assert await ask(bridge, "later") == "Hello from the fake upstream."
    assert [r.credential for r in fake.find("later")] == [TOKEN_A]


async def test_overloaded_everywhere_is_the_error_clients_retry_on(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="2", UPSTREAM_ACCOUNTS=TWO, MAX_RETRIES="1")
    bridge.fake.fail(TOKEN_A, 529, times=10)
    bridge.fake.fail(TOKEN_B, 529, times=10)
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(bridge, "everywhere")
    assert caught.value.response.status_code == 503
    assert caught.value.response.json()["error"]["code"] == "upstream_overloaded"
    assert [r.credential for r in bridge.fake.find("everywhere")] == [TOKEN_A] * 2 + [TOKEN_B] * 2
    with pytest.raises(openai.InternalServerError):
        await ask(bridge, "again")
    tried = [r.credential for r in bridge.fake.find("again")]
    assert tried == [TOKEN_B] * 2 + [TOKEN_A] * 2, "a, cooling down after its failover, comes last"


async def test_a_held_conversation_continues_on_the_next_account_with_its_history(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="2", UPSTREAM_ACCOUNTS=TWO, API_KEYS="sk-test", ADMIN_API_KEYS="sk-admin")
    fake = bridge.fake
    plan(fake, TOKEN_A, five_hour=0.3, seven_day=0.1)
    client = bridge.client("sk-admin")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "turn1 <<say:answer-one>>"}]
    for n in (2, 3):
        reply = await client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        messages += [
            {"role": "assistant", "content": reply.choices[0].message.content},
            {"role": "user", "content": f"turn{n} <<say:answer-{n}>>"},
        ]
    assert [r.credential for r in fake.messages_requests()] == [TOKEN_A, TOKEN_A]
    held = bridge.server.app[appkeys.UPSTREAMS].all[0].pool
    assert any(s.conversation is not None for s in held.slots()), "a holds the conversation"

    fake.plans[TOKEN_A].rejected = "seven_day"
    reply = await client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "answer-3"
    a_try, b_answer = fake.find("turn3")
    assert (a_try.credential, b_answer.credential) == (TOKEN_A, TOKEN_B)
    said = [(m["role"], block_text(m["content"])) for m in b_answer.messages]
    assert [text for _, text in said if "turn" in text or "answer" in text] == [
        "turn1 <<say:answer-one>>",
        "answer-one",
        "turn2 <<say:answer-2>>",
        "answer-2",
        "turn3 <<say:answer-3>>",
    ], "b was given the whole conversation"

    async with bridge.http() as http:
        usage = (await http.get("/v1/usage", headers={"Authorization": "Bearer sk-admin"})).json()
    spent = {u["account"]: u["total"] for u in usage["upstream_accounts"]}
    assert spent["a"]["requests"] == 2 and spent["b"]["requests"] == 1
    assert spent["a"]["cost_usd"] > 0 and spent["b"]["cost_usd"] > 0
    async with bridge.http() as http:
        refused = await http.get("/v1/limits", headers={"Authorization": "Bearer sk-test"})
        other = await http.get("/v1/usage", headers={"Authorization": "Bearer sk-test"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "upstream_accounts" not in other.json(), "only admin keys see the accounts when ADMIN_API_KEYS is set"
    assert (await limits(bridge, "sk-admin"))["a"]["limited_window"] == "seven_day"


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


async def test_no_account_credential_reaches_another_accounts_processes(
    make_bridge: MakeBridge, tmp_path: Path
) -> None:
    login = tmp_path / "login-a"
    creds = login / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True)
    login_token = "sk-ant-oat01-login-a-secret"
    creds.write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": login_token,
                    "refreshToken": "sk-ant-ort01-login-a-refresh",
                    "expiresAt": 4102444800000,
                    "scopes": ["user:inference"],
                    "subscriptionType": "pro",
                }
            }
        )
    )
    accounts = [
        {"name": "a", "login": str(login)},
        {"name": "b", "oauth_token": TOKEN_B},
        {"name": "c", "api_key_env": "ANTHROPIC_KEY_C"},
    ]
    bridge = await make_bridge(
        POOL_SIZE="3", UPSTREAM_ACCOUNTS=json.dumps(accounts), ANTHROPIC_KEY_C="sk-ant-api-account-c-secret"
    )
    secrets = {"a": login_token, "b": TOKEN_B, "c": "sk-ant-api-account-c-secret"}
    server_key = "sk-ant-test-dummy"  # the server's own ANTHROPIC_API_KEY
    upstreams = bridge.server.app[appkeys.UPSTREAMS].all
    homes = set()
    for upstream in upstreams:
        (pid,) = upstream.pool.pids()
        env = environ(pid)
        text = "\0".join(f"{k}={v}" for k, v in env.items())
        assert server_key not in text, f"{upstream.name}: the server's own key leaked in"
        for other, secret in secrets.items():
            assert (secret in text) == (other == upstream.name and other != "a"), (upstream.name, other)
        home = Path(env["HOME"])
        homes.add(home)
        files = "".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())
        for other, secret in secrets.items():
            assert (secret in files) == (other == upstream.name == "a"), (upstream.name, other)
    assert len(homes) == 3
    plan(bridge.fake, login_token, five_hour=0.42, seven_day=0.13)
    assert await ask(bridge, "who") == "Hello from the fake upstream."
    assert [r.credential for r in bridge.fake.find("who")] == [login_token], "the first account, with its login"
    shown = await limits(bridge)
    assert shown["a"]["kind"] == "login" and shown["a"]["windows"]["five_hour"]["utilization"] == 0.42
    assert [shown[n]["kind"] for n in ("b", "c")] == ["oauth_token", "api_key"]


async def test_an_api_key_reports_no_plan_windows(make_bridge: MakeBridge) -> None:
    """With ANTHROPIC_API_KEY the CLI writes no rate_limit_event at all, even for the unified
    headers and a rejected window: such an account shows no windows, and its 429 is an ordinary
    one (retried, then the OpenAI 429 clients retry on)."""
    bridge = await make_bridge(POOL_SIZE="1", MAX_RETRIES="1")
    key = "sk-ant-test-dummy"
    plan(bridge.fake, key, five_hour=0.42, seven_day=0.13)
    assert await ask(bridge, "keyed") == "Hello from the fake upstream."
    assert (await limits(bridge))["default"]["windows"] == {}
    bridge.fake.plans[key].rejected = "five_hour"
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(bridge, "refused")
    assert caught.value.response.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(bridge.fake.find("refused")) == 2, "not known as a plan limit: retried"
    assert (await limits(bridge))["default"]["limited"] is False


async def test_a_streamed_request_gets_the_same_429(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1", ANTHROPIC_API_KEY=None, CLAUDE_CODE_OAUTH_TOKEN=TOKEN_A)
    plan(bridge.fake, TOKEN_A, five_hour=0.2, seven_day=1.0, rejected="seven_day")
    for path, body in (
        ("/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "s"}]}),
        (
            "/v1/messages",
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 50,
                "stream": True,
                "messages": [{"role": "user", "content": "m"}],
            },
        ),
    ):
        async with bridge.http() as http:
            got = await http.post(path, json=body, headers={"Authorization": "Bearer sk-test"})
        assert got.status_code == 429, got.text
        assert abs(int(got.headers["Retry-After"]) - 7200 - 86400) <= 5
        assert "7-day" in got.text
    assert got.json()["error"]["type"] == "rate_limit_error"
