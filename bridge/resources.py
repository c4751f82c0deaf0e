"""Long-lived resources, each entering through a cleanup_ctx generator: the store and the pool."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from bridge import appkeys
from bridge.config import Config
from bridge.errors import AUTH_HELP
from bridge.seal import KIND as SECRETS_KIND
from bridge.sessions import KIND as SESSIONS_KIND
from bridge.sessions import Sessions
from bridge.spend.figures import turn_spend
from bridge.spend.guard import BudgetGuard
from bridge.spend.ledger import KIND as USAGE_KIND
from bridge.spend.ledger import UPSTREAM_KIND, Ledger
from bridge.storage.base import Store, StoreError
from bridge.storage.files import FileStore
from bridge.storage.memory import MemoryStore
from bridge.storage.redis_store import RedisStore
from supervisor.accounts import DEFAULT_ACCOUNT, Upstream, Upstreams, launch_env, pool_sizes, private_workdir
from supervisor.admission import TenantCaps
from supervisor.auth import classify
from supervisor.cli import cli_version
from supervisor.events import Result
from supervisor.launch import LaunchProfile, LaunchSettings
from supervisor.limits import PlanLimits
from supervisor.memory import default_warm
from supervisor.pool import Pool, PoolSettings
from supervisor.runner import RetryPolicy, TurnRunner


async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG]
    app[appkeys.CLI_VERSION] = await cli_version(config.claude_command)
    upstreams = make_upstreams(config, app.get(appkeys.CLOCK) or time.time)
    pool = upstreams.primary.pool
    app[appkeys.POOL] = pool
    app[appkeys.UPSTREAMS] = upstreams
    caps = TenantCaps(config.key_concurrency, config.max_queue, config.queue_timeout)
    runner = app[appkeys.RUNNER] = TurnRunner(
        pool, config.request_timeout, RetryPolicy(max_retries=config.max_retries), upstreams=upstreams, caps=caps
    )
    app[appkeys.METRICS].watch(pool, runner, upstreams)
    spent = app[appkeys.UPSTREAM_LEDGER]

    def served(account: str, result: Result) -> None:
        """Every turn's spend is also recorded against the upstream account that served it (a
        refused attempt adds what it cost, if anything, but is not a turn served)."""
        spent.record(account, turn_spend(result.raw), 0 if result.is_error else 1)

    runner.on_served = served
    reporters: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(u.pool.start() for u in upstreams.all))
        for upstream in upstreams.all:
            name = None if upstream.spec.kind == "default" else upstream.name
            reporters.append(
                asyncio.create_task(_report_auth(upstream.pool, config.start_timeout, name), name="report-auth")
            )
        yield
    finally:
        for reporter in reporters:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        await asyncio.gather(*(u.pool.close(grace=config.shutdown_grace) for u in upstreams.all))


def make_upstreams(config: Config, clock: Callable[[], float]) -> Upstreams:
    """One pool per upstream account (UPSTREAM_ACCOUNTS), each launched with only its own
    credentials; without that setting, the one pool of the server's own environment."""
    specs = config.upstream_accounts or (DEFAULT_ACCOUNT,)
    sizes = pool_sizes(config.pool_size, specs) if config.upstream_accounts else [config.pool_size]
    # The warm processes the machine's memory bears, shared by the accounts as their seats are.
    warm_total = max(config.pool_size, config.warm_conversations or default_warm(config.pool_size))
    upstreams = []
    for spec, size in zip(specs, sizes, strict=True):
        warm = max(size, warm_total * size // sum(sizes))
        pool = Pool(
            PoolSettings(
                size=size,
                warm=warm,
                park_after=config.park_after,
                affinity_wait=config.affinity_wait,
                max_queue=config.max_queue,
                queue_timeout=config.queue_timeout,
                start_timeout=config.start_timeout,
                turns_per_slot=config.turns_per_slot,
                max_slot_rss_mb=config.max_slot_rss_mb,
                hold_ttl=config.hold_ttl,
                standby=min(config.standby_slots, warm - 1),
                standby_after=config.standby_after,
            ),
            LaunchSettings(
                command=config.claude_command,
                request_timeout=config.request_timeout,
                workdir=private_workdir(config.slot_dir, spec),
                base_env=launch_env(config.cli_env, spec, specs),
                user_home=config.user_home if spec.kind == "default" else spec.login,
                account_env=spec.own_env() if spec.kind != "default" else {},
            ),
            default_profile=LaunchProfile(tools=config.cli_tools),
        )
        upstreams.append(Upstream(spec, pool, PlanLimits(clock)))
    return Upstreams(upstreams, clock)


async def _report_auth(pool: Pool, wait: float, account: str | None = None) -> None:
    """Says once, at start, how the CLI authenticates upstream (never a secret), or what to do."""
    log = structlog.get_logger("bridge.auth").bind(**({"upstream_account": account} if account else {}))
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    while pool.cli_account is None and loop.time() < end:
        await asyncio.sleep(0.05)
    auth = classify(pool.cli_account)
    if auth.missing:
        log.warning("cli_not_authenticated", auth=auth.kind, help=AUTH_HELP)
    else:
        log.info("cli_auth", auth=auth.kind, source=auth.source)


def make_store(config: Config) -> Store:
    if config.history_storage == "redis":
        assert config.redis_url is not None
        return RedisStore(
            config.redis_url, config.history_ttl_hours * 3600 or None, keep=(USAGE_KIND, UPSTREAM_KIND, SECRETS_KIND)
        )
    if config.history_storage == "memory":
        return MemoryStore()
    return FileStore(config.history_dir)


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """The store, the per-key spend kept in it, and the sweep that removes sessions past HISTORY_TTL_HOURS."""
    config = app[appkeys.CONFIG]
    store = make_store(config)
    if isinstance(store, RedisStore):
        await store.ping()
    app[appkeys.STORE] = store
    app[appkeys.SESSIONS] = Sessions(store, config.max_history_messages)
    ledger = app[appkeys.LEDGER] = Ledger(store, app[appkeys.METRICS].count_spend)
    rejections = app[appkeys.METRICS].budget_rejections
    app[appkeys.BUDGETS] = BudgetGuard(
        ledger, config.key_budgets, lambda key: rejections.labels(key).inc(), wait=config.queue_timeout
    )
    upstream_ledger = app[appkeys.UPSTREAM_LEDGER] = Ledger(store, kind=UPSTREAM_KIND)
    sweeper = None
    if config.enable_history and config.history_ttl_hours > 0:
        sweeper = asyncio.create_task(_sweep(store, config.history_ttl_hours * 3600, config.history_sweep_seconds))
    try:
        yield
    finally:
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await ledger.drain()
        await upstream_ledger.drain()
        await store.close()


async def _sweep(store: Store, ttl: float, every: float) -> None:
    log = structlog.get_logger("bridge.sweep")
    while True:
        try:
            removed = await store.sweep(SESSIONS_KIND, time.time() - ttl)
            if removed:
                log.info("sessions_expired", removed=removed)
        except StoreError as exc:
            log.warning("sweep_failed", error=str(exc))
        await asyncio.sleep(every)
