"""Upstream accounts: each its own pool of CLI processes, with its own HOME and credentials.

UPSTREAM_ACCOUNTS names them in order (a JSON list, see `parse_accounts`). The policy is
*first available*: a turn goes to the first account in that order that is not limited (a plan
window of it ran out and has not reset yet); a turn whose account refuses it for a plan window,
or stays overloaded after its retries, moves to the next account, where the whole conversation
is replayed, so the client sees one answer. Without UPSTREAM_ACCOUNTS there is one account, the
server's own environment and login, exactly as before.

No account's credentials reach another's processes: the credential variables of the server's
environment are left out of every configured account's processes, and each account adds only
its own (`launch_env`). A login account's processes link its own `.credentials.json`, no other.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from supervisor.limits import Limited, PlanLimits
from supervisor.pool import Pool

# The variables that choose or carry upstream credentials: never inherited by a configured
# account's processes from the server's environment.
CREDENTIAL_VARS = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
        "ANTHROPIC_BEDROCK_BASE_URL",
        "ANTHROPIC_VERTEX_BASE_URL",
        "ANTHROPIC_VERTEX_PROJECT_ID",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH",
    }
)
NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
KINDS = ("login", "api_key", "oauth_token", "env")


@attrs.frozen
class AccountSpec:
    """One upstream account as configured (`kind` says which credential; none is ever shown)."""

    name: str
    kind: str  # default | login | api_key | oauth_token | env
    secret: str | None = attrs.field(default=None, repr=False)
    login: Path | None = None  # a HOME holding .claude/.credentials.json
    env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    share: float | None = None  # fraction of POOL_SIZE

    def own_env(self) -> dict[str, str]:
        """The variables this account adds to its processes' environment."""
        if self.kind == "api_key":
            assert self.secret is not None
            return {"ANTHROPIC_API_KEY": self.secret}
        if self.kind == "oauth_token":
            assert self.secret is not None
            return {"CLAUDE_CODE_OAUTH_TOKEN": self.secret}
        return dict(self.env)


DEFAULT_ACCOUNT = AccountSpec("default", "default")


def parse_accounts(raw: str, env: Mapping[str, str]) -> tuple[AccountSpec, ...]:
    """UPSTREAM_ACCOUNTS: a JSON list of objects, each with a unique `name` and one of
    `login` (a directory: a HOME holding `.claude/.credentials.json`, or that `.claude` itself),
    `api_key` / `api_key_env` (the key, or the variable holding it), `oauth_token` /
    `oauth_token_env`, or `env` (variables for a cloud provider, e.g. Bedrock or Vertex);
    optionally `share`, the fraction of POOL_SIZE its processes take."""
    items = json.loads(raw)
    if not isinstance(items, list) or not items:
        raise ValueError("expected a non-empty JSON list of accounts")
    specs: list[AccountSpec] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"account {i}: expected an object")
        specs.append(_account(i, item, env))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("account names must be unique")
    shares = sum(s.share or 0 for s in specs)
    if shares > 1 + 1e-9:
        raise ValueError(f"the shares add up to {shares:g}, more than all of POOL_SIZE")
    return tuple(specs)


def _account(i: int, item: dict[str, Any], env: Mapping[str, str]) -> AccountSpec:
    name = item.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"account {i}: 'name' must be 1-32 letters, digits, '.', '_' or '-'")
    unknown = set(item) - {"name", "share", "login", "env", *(f"{k}{s}" for k in KINDS[1:3] for s in ("", "_env"))}
    if unknown:
        raise ValueError(f"account {name}: unknown field(s) {sorted(unknown)}")
    share = item.get("share")
    if share is not None and (not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1):
        raise ValueError(f"account {name}: 'share' must be a number above 0 and at most 1")
    given = [k for k in ("login", "api_key", "api_key_env", "oauth_token", "oauth_token_env", "env") if k in item]
    if len(given) != 1:
        raise ValueError(f"account {name}: give exactly one of login, api_key(_env), oauth_token(_env) or env")
    (field,) = given
    value = item[field]
    share = float(share) if share is not None else None
    if field == "login":
        return AccountSpec(name, "login", login=_login_home(name, value), share=share)
    if field == "env":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"account {name}: 'env' must be an object of strings")
        return AccountSpec(name, "env", env=dict(value), share=share)
    kind = field.removesuffix("_env")
    if field.endswith("_env"):
        if not isinstance(value, str) or not env.get(value):
            raise ValueError(f"account {name}: {field} names {value!r}, which is not set")
        value = env[value]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"account {name}: {field} must be a non-empty string")
    return AccountSpec(name, kind, secret=value.strip(), share=share)


def _login_home(name: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"account {name}: 'login' must be a directory")
    path = Path(value).expanduser()
    if (path / ".credentials.json").is_file() and path.name == ".claude":
        return path.parent
    if (path / ".claude" / ".credentials.json").is_file():
        return path
    raise ValueError(f"account {name}: no .claude/.credentials.json under {path} (log in with `claude auth login`)")


def launch_env(base: Mapping[str, str], spec: AccountSpec, accounts: Iterable[AccountSpec] = ()) -> dict[str, str]:
    """The server environment a configured account's processes inherit from: without any
    credential of the server's own, and without any variable holding an account's key or token
    (`api_key_env: "ANTHROPIC_KEY_B"` would otherwise reach every process through the
    `ANTHROPIC_*` pass-through). Its own variables are added after (see `LaunchSettings`)."""
    if spec.kind == "default":
        return dict(base)
    secrets = {a.secret for a in (spec, *accounts) if a.secret}
    return {k: v for k, v in base.items() if k not in CREDENTIAL_VARS and v not in secrets}


def pool_sizes(total: int, specs: tuple[AccountSpec, ...]) -> list[int]:
    """Seats per account: a share takes that fraction of POOL_SIZE, the others split the rest
    evenly; every account gets at least one."""
    fixed = {s.name: max(1, round(total * s.share)) for s in specs if s.share is not None}
    rest = [s for s in specs if s.share is None]
    left = max(0, total - sum(fixed.values()))
    sizes = []
    for spec in specs:
        if spec.name in fixed:
            sizes.append(fixed[spec.name])
        else:
            index = rest.index(spec)
            sizes.append(max(1, left // len(rest) + (1 if index < left % len(rest) else 0)))
    return sizes


# How long an account that stayed overloaded through a turn's retries is passed over while
# another account can take turns (it is not limited: it is used when no other can).
COOL_DOWN_S = 30.0


@attrs.define(eq=False)
class Upstream:
    spec: AccountSpec
    pool: Pool
    limits: PlanLimits
    cooling_until: float = 0.0  # wall clock; see COOL_DOWN_S

    @property
    def name(self) -> str:
        return self.spec.name


class Upstreams:
    """The accounts in their configured order, and which of them a turn may go to now."""

    def __init__(self, upstreams: list[Upstream], clock: Callable[[], float] = time.time) -> None:
        assert upstreams
        self.all = upstreams
        self.clock = clock  # the one every account's PlanLimits uses (injected by tests)

    @classmethod
    def single(cls, pool: Pool, clock: Callable[[], float] = time.time) -> Upstreams:
        return cls([Upstream(DEFAULT_ACCOUNT, pool, PlanLimits(clock))], clock)

    def retry_after(self, limit: Limited) -> float:
        return limit.retry_after(self.clock())

    @property
    def primary(self) -> Upstream:
        return self.all[0]

    def pools(self) -> list[Pool]:
        return [u.pool for u in self.all]

    def stats(self) -> dict[str, int]:
        """Every account's pool together (seats, states, queue, restarts)."""
        total: dict[str, int] = {}
        for pool in self.pools():
            for key, value in pool.stats().items():
                total[key] = total.get(key, 0) + value
        return total

    @property
    def unavailable(self) -> bool:
        """No account can start a process."""
        return all(pool.unavailable for pool in self.pools())

    def next(self, skip: set[str]) -> Upstream | None:
        """The first account not in `skip` that is not limited (the documented policy); one
        cooling down after an overload only when no other can take the turn."""
        now, cooling = self.clock(), None
        for upstream in self.all:
            if upstream.name in skip or upstream.limits.limited() is not None or upstream.pool.unavailable:
                continue
            if upstream.cooling_until <= now:
                return upstream
            cooling = cooling or upstream
        return cooling

    def cool_down(self, upstream: Upstream) -> None:
        """The account stayed overloaded through a turn's retries: pass it over for a while."""
        upstream.cooling_until = self.clock() + COOL_DOWN_S

    def soonest_limit(self) -> Limited | None:
        """When every account is limited: the limit that ends first."""
        limits = [limit for u in self.all if (limit := u.limits.limited()) is not None]
        return min(limits, key=lambda limit: limit.until) if limits else None


def private_workdir(base: Path, spec: AccountSpec) -> Path:
    """An account's own directory under SLOT_DIR, readable by the server's user only (its
    processes' HOMEs live there); the default account keeps SLOT_DIR itself."""
    if spec.kind == "default":
        return base
    path = base / f"account-{spec.name}"
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
