"""`create_app(config)`: wires the application together and does nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bridge import appkeys
from bridge.config import Config
from bridge.errors import error_middleware
from bridge.logs import request_context_middleware
from bridge.modelmap import ModelMap
from bridge.routes import chat, info
from supervisor.cli import cli_version
from supervisor.launch import LaunchSettings
from supervisor.pool import Pool, PoolSettings
from supervisor.runner import RetryPolicy, TurnRunner


async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG]
    app[appkeys.CLI_VERSION] = await cli_version(config.claude_command)
    pool = Pool(
        PoolSettings(
            size=config.pool_size,
            max_queue=config.max_queue,
            queue_timeout=config.queue_timeout,
            start_timeout=config.start_timeout,
            turns_per_slot=config.turns_per_slot,
        ),
        LaunchSettings(
            command=config.claude_command,
            request_timeout=config.request_timeout,
            workdir=config.slot_dir,
            base_env=config.cli_env,
            user_home=config.user_home,
        ),
    )
    app[appkeys.POOL] = pool
    app[appkeys.RUNNER] = TurnRunner(pool, config.request_timeout, RetryPolicy(max_retries=config.max_retries))
    await pool.start()
    try:
        yield
    finally:
        await pool.close(grace=config.shutdown_grace)


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[request_context_middleware, error_middleware],
        client_max_size=config.max_request_bytes,
    )
    app[appkeys.CONFIG] = config
    app[appkeys.MODELS] = ModelMap.load(config.model_map_file, config.model_map_override)
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/", info.index)
    app.router.add_get("/health", info.health)
    app.router.add_get("/v1/models", info.list_models)
    app.router.add_get("/v1/models/{model_id}", info.get_model)
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    return app
