"""Long-lived resources, each entering through a cleanup_ctx generator: the store and the pool."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from bridge import appkeys
from bridge.config import Config
from bridge.errors import AUTH_HELP
from bridge.sessions import KIND as SESSIONS_KIND
from bridge.sessions import Sessions
from bridge.spend.ledger import KIND as USAGE_KIND
from bridge.spend.ledger import Ledger
from bridge.storage.base import Store, StoreError
from bridge.storage.files import FileStore
from bridge.storage.memory import MemoryStore
from bridge.storage.redis_store import RedisStore
from supervisor.auth import classify
from supervisor.cli import cli_version
from supervisor.launch import LaunchProfile, LaunchSettings
from supervisor.memory import default_warm
from supervisor.pool import Pool, PoolSettings
from supervisor.runner import RetryPolicy, TurnRunner


async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG]
    app[appkeys.CLI_VERSION] = await cli_version(config.claude_command)
    warm = max(config.pool_size, config.warm_conversations or default_warm(config.pool_size))
    pool = Pool(
        PoolSettings(
            size=config.pool_size,
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
            workdir=config.slot_dir,
            base_env=config.cli_env,
            user_home=config.user_home,
        ),
        default_profile=LaunchProfile(tools=config.cli_tools),
    )
    app[appkeys.POOL] = pool
    app[appkeys.RUNNER] = TurnRunner(pool, config.request_timeout, RetryPolicy(max_retries=config.max_retries))
    app[appkeys.METRICS].watch(pool, app[appkeys.RUNNER])
    reporter = None
    try:
        await pool.start()
        reporter = asyncio.create_task(_report_auth(pool, config.start_timeout), name="report-auth")
        yield
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        await pool.close(grace=config.shutdown_grace)


async def _report_auth(pool: Pool, wait: float) -> None:
    """Says once, at start, how the CLI authenticates upstream (never a secret), or what to do."""
    log = structlog.get_logger("bridge.auth")
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
        return RedisStore(config.redis_url, config.history_ttl_hours * 3600 or None, keep=(USAGE_KIND,))
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
