from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import DEFAULT_MODEL_MAP, Config, ConfigError
from bridge.modelmap import ModelMap, UnknownModel
from supervisor.runner import RetryPolicy

MAP = ModelMap.load(DEFAULT_MODEL_MAP)


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("gpt-4", "sonnet"),
        ("gpt-4-turbo", "sonnet"),
        ("gpt-4o", "sonnet"),
        ("gpt-4.1", "sonnet"),
        ("gpt-5", "sonnet"),
        ("gpt-5.1-codex", "sonnet"),
        ("gpt-3.5-turbo", "haiku"),
        ("gpt-4o-mini", "haiku"),
        ("gpt-4.1-mini", "haiku"),
        ("gpt-5-mini", "haiku"),
        ("o1", "opus"),
        ("o3-pro", "opus"),
        ("o4", "opus"),
        ("sonnet", "sonnet"),
        ("opus", "opus"),
        ("haiku", "haiku"),
        ("claude-opus-4-1", "claude-opus-4-1"),
    ],
)
def test_mapping(name: str, target: str) -> None:
    assert MAP.resolve(name) == target


@pytest.mark.parametrize("name", ["", "llama-3", "gemini-pro", "text-davinci-003", "fable"])
def test_unknown_models(name: str) -> None:
    with pytest.raises(UnknownModel):
        MAP.resolve(name)


def test_cli_aliases_and_overrides() -> None:
    assert MAP.resolve("fable", cli_aliases=["fable"]) == "fable"
    custom = ModelMap.load(DEFAULT_MODEL_MAP, {"gpt-4o": "opus", "mine": "haiku"})
    assert custom.resolve("gpt-4o") == "opus" and custom.resolve("mine") == "haiku"
    assert "mine" in custom.ids()


def test_listed_ids_all_resolve() -> None:
    ids = MAP.ids(["claude-sonnet-5-5", "fable"])
    assert "gpt-4o" in ids and "claude-sonnet-5-5" in ids and "fable" in ids


def test_config_defaults_and_env() -> None:
    config = Config.from_env(
        {
            "PORT": "9000",
            "POOL_SIZE": "8",
            "DEBUG": "true",
            "REQUEST_TIMEOUT": "12.5",
            "MODEL_MAP": '{"a": "haiku"}',
            "ANTHROPIC_API_KEY": "sk-ant-secret",
        }
    )
    assert (config.port, config.pool_size, config.debug, config.request_timeout) == (9000, 8, True, 12.5)
    assert config.host == "127.0.0.1"
    assert config.model_map_override == {"a": "haiku"}
    assert "sk-ant-secret" not in repr(config), "the repr never prints secrets"


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "http"},
        {"PORT": "70000"},
        {"POOL_SIZE": "0"},
        {"DEBUG": "maybe"},
        {"MODEL_MAP": "[1]"},
        {"LOG_LEVEL": "LOUD"},
        {"REQUEST_TIMEOUT": "-1"},
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert next(iter(env)) in str(info.value)


def test_backoff_is_bounded_and_jittered() -> None:
    import random

    policy = RetryPolicy(max_retries=5, base=0.5, cap=4)
    rng = random.Random(1)
    delays = [policy.delay(a, rng) for a in range(8)]
    assert all(0 <= d <= min(4, 0.5 * 2**a) for a, d in enumerate(delays))
    assert len(set(delays)) == len(delays)


def test_model_map_file_is_valid_json() -> None:
    assert Path(DEFAULT_MODEL_MAP).is_file()
