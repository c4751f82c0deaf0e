"""Settings from the environment (and `.env`), as one frozen value.

The names match the deployments of the bridge this one replaces (HOST, PORT, CLAUDE_COMMAND,
REQUEST_TIMEOUT, MAX_RETRIES, ...) so an existing `.env` keeps working.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import attrs

from bridge.spend.budgets import fingerprint, parse_budgets
from bridge.validation.limits import Limits
from supervisor.accounts import AccountSpec, parse_accounts

ROOT = Path(__file__).resolve().parent.parent
PINNED_CLI = ROOT / ".tools" / "node_modules" / ".bin" / "claude"
DEFAULT_MODEL_MAP = ROOT / "config" / "models.json"


class ConfigError(ValueError):
    """A setting has a value the server cannot start with."""


def _default_command() -> str:
    return str(PINNED_CLI) if PINNED_CLI.exists() else "claude"


@attrs.frozen
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    log_level: str = "INFO"
    claude_command: str = attrs.field(factory=_default_command)
    request_timeout: float = 300.0
    max_retries: int = 2
    pool_size: int = 4
    max_queue: int = 32
    queue_timeout: float = 30.0
    turns_per_slot: int = 200
    max_slot_rss_mb: int = 450
    hold_ttl: float = 1800.0
    standby_slots: int = 1
    standby_after: float = 2.0
    warm_conversations: int = 0  # 0: derived from available memory (supervisor.seats.default_warm)
    park_after: float = 1.0
    affinity_wait: float = 1.0
    start_timeout: float = 30.0
    shutdown_grace: float = 30.0
    max_request_bytes: int = 20 * 1024 * 1024
    max_messages: int = 1000
    max_replay_bytes: int = 16 * 1024 * 1024
    model_map_file: Path = DEFAULT_MODEL_MAP
    model_map_override: Mapping[str, str] = attrs.field(factory=dict)
    slot_dir: Path = attrs.field(factory=lambda: Path(tempfile.gettempdir()) / f"claude-bridge-{os.getpid()}")
    enable_history: bool = True
    history_storage: str = "file"
    history_dir: Path = Path("history")
    max_history_messages: int = 200
    history_ttl_hours: float = 24.0
    history_sweep_seconds: float = 300.0
    redis_url: str | None = attrs.field(default=None, repr=False)
    api_keys: tuple[str, ...] = attrs.field(default=(), repr=lambda keys: f"<{len(keys)} keys>")
    # Keys that also see every key's spend at /v1/usage; they are valid API keys too.
    admin_api_keys: tuple[str, ...] = attrs.field(default=(), repr=lambda keys: f"<{len(keys)} keys>")
    key_budgets: Mapping[str, Mapping[str, float]] = attrs.field(factory=dict)
    rate_limit_rpm: int = 0
    rate_limit_concurrent: int = 0
    # At most this many turns of one key run at once (more wait, see supervisor.admission); 0: no cap.
    key_concurrency: int = 0
    cors_origins: tuple[str, ...] = ()
    security_mode: str = "none"
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    metrics_require_key: bool = False
    # This replica's name behind a load balancer (X-Bridge-Replica, /health); empty: not named.
    replica_id: str = ""
    show_reasoning: bool = False
    # Seals reasoning items' encrypted_content (32 bytes); None: one generated and kept in the store.
    reasoning_key: bytes | None = attrs.field(default=None, repr=False)
    # The environment the CLI children may inherit from (credentials): never printed.
    cli_env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ), repr=False)
    user_home: Path | None = attrs.field(factory=lambda: Path.home())
    # UPSTREAM_ACCOUNTS (supervisor/accounts.py): empty means the one account of the server's
    # own environment and login, as always.
    upstream_accounts: tuple[AccountSpec, ...] = attrs.field(default=(), repr=lambda a: f"<{len(a)} accounts>")

    @property
    def limits(self) -> Limits:
        return Limits(max_messages=self.max_messages, max_replay_bytes=self.max_replay_bytes)

    @property
    def cli_tools(self) -> tuple[str, ...]:
        """The allow-list of built-in CLI tools: the mode's, plus ALLOWED_TOOLS, minus DISALLOWED_TOOLS.

        Only named tools are ever offered, so a tool added by a future CLI version stays off.
        """
        base = ("WebSearch", "WebFetch") if self.security_mode == "web" else ()
        named = dict.fromkeys((*base, *self.allowed_tools))
        return tuple(t for t in named if t not in self.disallowed_tools)

    @property
    def web_search(self) -> bool:
        """Web search requests are accepted when the CLI's WebSearch tool is on (web mode)."""
        return "WebSearch" in self.cli_tools

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        kwargs: dict[str, object] = {"cli_env": env}
        readers = {
            "HOST": ("host", str),
            "PORT": ("port", _int(1, 65535)),
            "DEBUG": ("debug", _bool),
            "LOG_LEVEL": ("log_level", _level),
            "CLAUDE_COMMAND": ("claude_command", str),
            "REQUEST_TIMEOUT": ("request_timeout", _float(0.1)),
            "MAX_RETRIES": ("max_retries", _int(0, 10)),
            "POOL_SIZE": ("pool_size", _int(1, 256)),
            "MAX_QUEUE": ("max_queue", _int(0, 100_000)),
            "QUEUE_TIMEOUT": ("queue_timeout", _float(0.0)),
            "TURNS_PER_SLOT": ("turns_per_slot", _int(1, 1_000_000)),
            "MAX_SLOT_RSS_MB": ("max_slot_rss_mb", _int(50, 1_000_000)),
            "HOLD_TTL": ("hold_ttl", _float(0.0)),
            "STANDBY_SLOTS": ("standby_slots", _int(0, 256)),
            "STANDBY_AFTER": ("standby_after", _float(0.0)),
            "WARM_CONVERSATIONS": ("warm_conversations", _int(0, 4096)),
            "PARK_AFTER": ("park_after", _float(-1.0)),
            "AFFINITY_WAIT": ("affinity_wait", _float(0.0)),
            "START_TIMEOUT": ("start_timeout", _float(1.0)),
            "SHUTDOWN_GRACE": ("shutdown_grace", _float(0.0)),
            "MAX_REQUEST_BYTES": ("max_request_bytes", _int(1024, 1 << 31)),
            "MAX_MESSAGES": ("max_messages", _int(1, 1_000_000)),
            "MAX_REPLAY_BYTES": ("max_replay_bytes", _int(0, 1 << 34)),
            "MODEL_MAP_FILE": ("model_map_file", Path),
            "MODEL_MAP": ("model_map_override", _json_map),
            "SLOT_DIR": ("slot_dir", Path),
            "ENABLE_HISTORY": ("enable_history", _bool),
            "HISTORY_STORAGE": ("history_storage", _storage),
            "HISTORY_DIR": ("history_dir", Path),
            "MAX_HISTORY_MESSAGES": ("max_history_messages", _int(1, 100_000)),
            "HISTORY_TTL_HOURS": ("history_ttl_hours", _float(0.0)),
            "HISTORY_SWEEP_SECONDS": ("history_sweep_seconds", _float(0.05)),
            "REDIS_URL": ("redis_url", str),
            "RATE_LIMIT_RPM": ("rate_limit_rpm", _int(0, 10_000_000)),
            "RATE_LIMIT_CONCURRENT": ("rate_limit_concurrent", _int(0, 100_000)),
            "KEY_CONCURRENCY": ("key_concurrency", _int(0, 100_000)),
            "CORS_ORIGINS": ("cors_origins", _list),
            "RESTRICTED_MODE": ("security_mode", _restricted),
            "SECURITY_MODE": ("security_mode", _mode),
            "ALLOWED_TOOLS": ("allowed_tools", _list),
            "DISALLOWED_TOOLS": ("disallowed_tools", _list),
            "METRICS_REQUIRE_KEY": ("metrics_require_key", _bool),
            "REPLICA_ID": ("replica_id", _replica),
            "SHOW_REASONING": ("show_reasoning", _bool),
            "REASONING_KEY": ("reasoning_key", _key32),
        }
        for name, (field, parse) in readers.items():
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                kwargs[field] = parse(raw)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{name}={raw!r}: {exc}") from None
        if env.get("HOME"):
            kwargs["user_home"] = Path(env["HOME"])
        api_keys: tuple[str, ...] = _list(env.get("API_KEYS") or "")
        keys_file = env.get("API_KEYS_FILE")
        if keys_file:
            try:
                lines = Path(keys_file).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"API_KEYS_FILE={keys_file!r}: {exc.strerror}") from None
            api_keys += tuple(k.strip() for k in lines if k.strip() and not k.strip().startswith("#"))
        admins = _list(env.get("ADMIN_API_KEYS") or "")
        api_keys = tuple(dict.fromkeys((*api_keys, *admins)))
        kwargs["admin_api_keys"] = admins
        kwargs["api_keys"] = api_keys
        if env.get("KEY_BUDGETS"):
            try:
                kwargs["key_budgets"] = parse_budgets(env["KEY_BUDGETS"], {k: fingerprint(k) for k in api_keys})
            except ValueError as exc:
                raise ConfigError(f"KEY_BUDGETS: {exc}") from None
        if env.get("UPSTREAM_ACCOUNTS", "").strip():
            try:
                kwargs["upstream_accounts"] = parse_accounts(env["UPSTREAM_ACCOUNTS"], env)
            except ValueError as exc:
                raise ConfigError(f"UPSTREAM_ACCOUNTS: {exc}") from None
        config = cls(**kwargs)  # type: ignore[arg-type]
        if config.history_storage == "redis" and not config.redis_url:
            raise ConfigError("HISTORY_STORAGE=redis needs REDIS_URL")
        if config.enable_history and config.max_history_messages >= config.max_messages:
            raise ConfigError(
                f"MAX_HISTORY_MESSAGES={config.max_history_messages} must be below MAX_MESSAGES={config.max_messages}: "
                "a session's stored history and its new message are one request"
            )
        return config


def _int(lo: int, hi: int):  # type: ignore[no-untyped-def]
    def parse(raw: str) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _float(lo: float):  # type: ignore[no-untyped-def]
    def parse(raw: str) -> float:
        value = float(raw)
        if value < lo:
            raise ValueError(f"must be at least {lo}")
        return value

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.replace(" ", ",").split(",") if item.strip())


def _mode(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("none", "web"):
        raise ValueError("expected none or web")
    return value


def _restricted(raw: str) -> str:
    """The replaced bridge's RESTRICTED_MODE=true meant: web tools only."""
    return "web" if _bool(raw) else "none"


def _storage(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("file", "redis", "memory"):
        raise ValueError("expected file, redis or memory")
    return value


def _key32(raw: str) -> bytes:
    """32 bytes, base64 (standard or URL-safe, padding optional)."""
    text = raw.strip().replace("+", "-").replace("/", "_")
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("expected base64") from None
    if len(key) != 32:
        raise ValueError(f"expected 32 bytes once base64-decoded, not {len(key)} (openssl rand -base64 32)")
    return key


def _replica(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ValueError("expected 1-64 letters, digits, '.', '_' or '-'")
    return value


def _json_map(raw: str) -> dict[str, str]:
    value = json.loads(raw)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError('expected a JSON object of strings, e.g. {"gpt-4o": "opus"}')
    return value
