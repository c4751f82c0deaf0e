"""Plan windows from `rate_limit_event` lines, and the UPSTREAM_ACCOUNTS setting. Pure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config, ConfigError
from supervisor.accounts import DEFAULT_ACCOUNT, AccountSpec, launch_env, parse_accounts, pool_sizes
from supervisor.launch import LaunchSettings, build_env
from supervisor.limits import PlanLimits, parse_event

# As the pinned CLI wrote them (docs/cli-findings.md).
ALLOWED = {
    "type": "rate_limit_event",
    "rate_limit_info": {
        "status": "allowed",
        "resetsAt": 1796507540,
        "rateLimitType": "five_hour",
        "isUsingOverage": False,
        "unifiedWindows": {
            "five_hour": {"utilization": 0.42, "resetsAt": 1796507540, "status": "allowed"},
            "seven_day": {"utilization": 0.13, "resetsAt": 1796590340, "status": "allowed"},
        },
    },
}
REJECTED = {
    "type": "rate_limit_event",
    "rate_limit_info": {
        "status": "rejected",
        "resetsAt": 1796511157,
        "rateLimitType": "five_hour",
        "isUsingOverage": False,
        "unifiedWindows": {
            "five_hour": {"utilization": 1, "resetsAt": 1796511157, "status": "rejected"},
            "seven_day": {"utilization": 0.13, "resetsAt": 1796590357, "status": "allowed"},
        },
    },
}
SERVER_LIMITING = {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "isUsingOverage": False}}


class Clock:
    now = 1796500000.0

    def __call__(self) -> float:
        return self.now


def test_an_allowed_report_gives_each_window() -> None:
    info = parse_event(ALLOWED)
    assert info is not None and not info.rejected
    limits = PlanLimits(Clock())
    assert limits.observe(info) is None
    report = limits.report()
    assert report["limited"] is False and report["status"] == "allowed"
    assert report["windows"]["five_hour"]["utilization"] == 0.42
    assert report["windows"]["seven_day"] == {
        "utilization": 0.13,
        "status": "allowed",
        "resets_at": 1796590340,
        "resets_in_s": 90340,
    }


def test_a_rejected_window_limits_the_account_until_its_reset() -> None:
    clock = Clock()
    limits = PlanLimits(clock)
    limits.observe(parse_event(ALLOWED))  # type: ignore[arg-type]
    limit = limits.observe(parse_event(REJECTED))  # type: ignore[arg-type]
    assert limit is not None and limit.window == "five_hour" and limit.until == 1796511157
    assert limit.retry_after(clock.now) == 11157
    assert "5-hour" in limit.describe() and "UTC" in limit.describe()
    assert limits.report()["retry_after_s"] == 11157
    clock.now = 1796511157
    assert limits.limited() is None, "the limit ends by itself at the reset"
    assert limits.report()["windows"]["five_hour"]["status"] is None


def test_a_window_near_its_limit_makes_the_account_warn() -> None:
    raw = json.loads(json.dumps(ALLOWED))
    raw["rate_limit_info"]["unifiedWindows"]["five_hour"].update(utilization=0.8, status="allowed_warning")
    limits = PlanLimits(Clock())
    limits.observe(parse_event(raw))  # type: ignore[arg-type]
    assert limits.report()["status"] == "allowed_warning"


def test_the_servers_own_request_limiting_is_no_plan_limit() -> None:
    limits = PlanLimits(Clock())
    info = parse_event(SERVER_LIMITING)
    assert info is not None and info.rejected and info.window is None
    assert limits.observe(info) is None and limits.limited() is None


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "result"},
        {"type": "rate_limit_event"},
        {"type": "rate_limit_event", "rate_limit_info": {"status": "maybe"}},
    ],
)
def test_other_lines_are_not_reports(raw: dict[str, Any]) -> None:
    assert parse_event(raw) is None


def test_accounts_parse_each_kind(tmp_path: Path) -> None:
    home = tmp_path / "login"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / ".credentials.json").write_text("{}")
    raw = json.dumps(
        [
            {"name": "plan", "login": str(home / ".claude"), "share": 0.5},
            {"name": "key", "api_key_env": "KEY"},
            {"name": "tok", "oauth_token": "sk-ant-oat01-x"},
            {"name": "bedrock", "env": {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1"}},
        ]
    )
    plan, key, tok, bedrock = parse_accounts(raw, {"KEY": "sk-ant-api-y"})
    assert (plan.kind, plan.login, plan.share) == ("login", home, 0.5)
    assert key.own_env() == {"ANTHROPIC_API_KEY": "sk-ant-api-y"} and "sk-ant" not in repr(key)
    assert tok.own_env() == {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}
    assert bedrock.own_env() == {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1"}
    assert pool_sizes(4, (plan, key, tok, bedrock)) == [2, 1, 1, 1]


@pytest.mark.parametrize(
    ("accounts", "wanted"),
    [
        ([], "non-empty"),
        ([{"name": "a"}], "exactly one"),
        ([{"name": "a", "api_key": "x", "oauth_token": "y"}], "exactly one"),
        ([{"name": "a", "api_key": "x"}, {"name": "a", "api_key": "y"}], "unique"),
        ([{"name": "a b", "api_key": "x"}], "name"),
        ([{"name": "a", "api_key_env": "MISSING"}], "not set"),
        ([{"name": "a", "login": "/nonexistent"}], "credentials.json"),
        ([{"name": "a", "api_key": "x", "share": 2}], "share"),
        ([{"name": "a", "api_key": "x", "share": 0.7}, {"name": "b", "api_key": "y", "share": 0.7}], "add up"),
        ([{"name": "a", "apikey": "x"}], "unknown"),
    ],
)
def test_bad_accounts_are_refused_at_start(accounts: list[dict[str, Any]], wanted: str) -> None:
    with pytest.raises(ConfigError, match=wanted):
        Config.from_env({"UPSTREAM_ACCOUNTS": json.dumps(accounts)})


def test_without_the_setting_there_is_the_one_account_of_today() -> None:
    config = Config.from_env({"ANTHROPIC_API_KEY": "sk-ant-api-own"})
    assert config.upstream_accounts == ()
    assert launch_env({"ANTHROPIC_API_KEY": "sk-ant-api-own"}, DEFAULT_ACCOUNT) == {
        "ANTHROPIC_API_KEY": "sk-ant-api-own"
    }


def test_an_account_never_inherits_the_servers_credentials(tmp_path: Path) -> None:
    server = {
        "PATH": "/bin",
        "ANTHROPIC_API_KEY": "sk-ant-api-server",
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-server",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
    }
    spec = AccountSpec("b", "env", env={"CLAUDE_CODE_USE_VERTEX": "1", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"})
    settings = LaunchSettings("claude", 30, tmp_path, base_env=launch_env(server, spec), account_env=spec.own_env())
    env = build_env(settings, tmp_path / "home", tmp_path / "tmp")
    assert "sk-ant" not in json.dumps(env)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1" and env["CLAUDE_CODE_USE_VERTEX"] == "1"
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/k.json", "a provider's own settings pass as they are"


def test_a_variable_holding_another_accounts_key_is_left_out() -> None:
    server = {"ANTHROPIC_KEY_B": "sk-ant-api-b", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
    accounts = parse_accounts(
        json.dumps([{"name": "a", "oauth_token": "sk-ant-oat01-a"}, {"name": "b", "api_key_env": "ANTHROPIC_KEY_B"}]),
        server,
    )
    assert launch_env(server, accounts[0], accounts) == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}


class _Pool:
    unavailable = False


def test_the_first_available_account_serves_one_cooling_down_comes_last() -> None:
    from typing import cast

    from supervisor.accounts import Upstream, Upstreams
    from supervisor.pool import Pool

    clock = Clock()
    a, b, c = (Upstream(AccountSpec(n, "api_key", secret=n), cast(Pool, _Pool()), PlanLimits(clock)) for n in "abc")
    upstreams = Upstreams([a, b, c], clock)
    assert upstreams.next(set()) is a
    a.limits.observe(parse_event(REJECTED))  # type: ignore[arg-type]
    assert upstreams.next(set()) is b and upstreams.next({"b"}) is c
    upstreams.cool_down(b)
    assert upstreams.next(set()) is c and upstreams.next({"c"}) is b, "cooling down: tried last"
    assert upstreams.next({"b", "c"}) is None
    limit = upstreams.soonest_limit()
    assert limit is not None and upstreams.retry_after(limit) == 11157
    clock.now += 31
    assert upstreams.next(set()) is b
