"""A turn's spend from the CLI's figures, per-key totals by period, and KEY_BUDGETS. Pure."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.config import Config, ConfigError
from bridge.spend.budgets import exceeded, fingerprint, parse_budgets, report
from bridge.spend.figures import Spend, add_spend, current, turn_spend

# A `result` of claude 2.1.331 after a second turn on one process (trimmed): `total_cost_usd`
# and `modelUsage` count both turns, `model_usage_since_last_result` only this one.
RESULT = {
    "usage": {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 300},
    "total_cost_usd": 0.00303,
    "modelUsage": {"claude-sonnet-5-5": {"inputTokens": 1100, "outputTokens": 70, "costUSD": 0.00303}},
    "model_usage_since_last_result": {
        "claude-sonnet-5-5": {
            "inputTokens": 1000,
            "outputTokens": 50,
            "cacheReadInputTokens": 300,
            "cacheCreationInputTokens": 40,
            "costUSD": 0.00263,
        },
        "claude-haiku-5-5": {"inputTokens": 10, "outputTokens": 1, "costUSD": 0.00001},
    },
}


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_a_turns_spend_is_the_since_last_result_figures_summed_over_models() -> None:
    spend = turn_spend(RESULT)
    assert (spend.input_tokens, spend.output_tokens) == (1010, 51)
    assert (spend.cache_read_input_tokens, spend.cache_creation_input_tokens) == (300, 40)
    assert spend.cost_usd == pytest.approx(0.00264) and spend.reported


def test_without_per_turn_figures_tokens_come_from_usage_and_no_cost_is_made_up() -> None:
    spend = turn_spend({"usage": RESULT["usage"], "total_cost_usd": 0.00303})
    assert spend == Spend(1000, 50, 300, 0, 0.0, reported=False)


def test_totals_add_up_and_periods_start_again_at_zero() -> None:
    spend = Spend(input_tokens=10, output_tokens=2, cost_usd=0.5)
    record = add_spend(None, "key_0123456789", spend, 1, ts("2026-11-30T23:59:00"))
    record = add_spend(record, "key_0123456789", spend, 1, ts("2026-11-30T23:59:30"))
    assert record["total"]["requests"] == 2 and record["day"] == {"period": "2026-11-30", **record["total"]}
    record = add_spend(record, "key_0123456789", spend, 0, ts("2026-12-01T00:00:10"))
    assert record["total"]["input_tokens"] == 30 and record["total"]["requests"] == 2
    assert record["day"]["period"] == "2026-12-01" and record["day"]["cost_usd"] == 0.5
    assert record["month"]["period"] == "2026-12" and record["month"]["input_tokens"] == 10
    assert current(record, "day", ts("2026-12-02T08:00:00"))["cost_usd"] == 0.0
    assert current(record, "month", ts("2026-12-31T08:00:00"))["cost_usd"] == 0.5


def test_budgets_parse_keys_fingerprints_and_a_default() -> None:
    budgets = parse_budgets("sk-a=5/day, *=20/month", {"sk-a": "key_aaaaaaaaaa"})
    assert budgets == {"key_aaaaaaaaaa": {"day": 5.0}, "*": {"month": 20.0}}
    now = ts("2026-12-01T12:00:00")
    record = add_spend(None, "key_aaaaaaaaaa", Spend(cost_usd=5.0), 1, now)
    assert [b["period"] for b in report(budgets, "key_aaaaaaaaaa", record, now)] == ["day", "month"]
    over = exceeded(budgets, "key_aaaaaaaaaa", record, now)
    assert over is not None and over["period"] == "day" and over["remaining_usd"] == 0
    assert exceeded(budgets, "key_aaaaaaaaaa", record, ts("2026-12-02T00:00:00")) is None


@pytest.mark.parametrize(
    "raw",
    [
        "nokey=5/day",
        "key_0123456789=5/week",
        "key_0123456789=-1/day",
        "key_0123456789=abc/day",
        "key_0123456789=5",
        "key_0123456789=1/day,key_0123456789=2/day",
        "=1/day",
    ],
)
def test_bad_budgets_are_refused_at_start(raw: str) -> None:
    with pytest.raises(ConfigError, match="KEY_BUDGETS"):
        Config.from_env({"KEY_BUDGETS": raw, "API_KEYS": "sk-a"})


def test_admin_keys_are_api_keys_and_budgets_may_name_a_key() -> None:
    config = Config.from_env({"API_KEYS": "sk-a", "ADMIN_API_KEYS": "sk-root", "KEY_BUDGETS": "sk-a=2/month"})
    assert config.api_keys == ("sk-a", "sk-root") and config.admin_api_keys == ("sk-root",)
    assert config.key_budgets == {fingerprint("sk-a"): {"month": 2.0}}
    assert "sk-a" not in repr(config) and "sk-root" not in repr(config)
    assert fingerprint("sk-a").startswith("key_") and len(fingerprint("sk-a")) == 14
