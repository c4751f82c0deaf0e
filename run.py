"""Starts the server: parse configuration, build the app with `create_app`, serve."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web
from dotenv import load_dotenv

from bridge import logs
from bridge.app import create_app
from bridge.config import Config, ConfigError


def main(argv: list[str] | None = None) -> int:
    load_dotenv(override=False)
    parser = argparse.ArgumentParser(description="Claude OpenAI Bridge")
    parser.add_argument("--host", help="interface to bind (env HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env PORT, default 8000)")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        import attrs

        config = attrs.evolve(config, **overrides)
    logs.configure(config.log_level)
    import structlog

    log = structlog.get_logger("bridge")
    log.info(
        "starting",
        host=config.host,
        port=config.port,
        pool_size=config.pool_size,
        cli=config.claude_command,
        security_mode=config.security_mode,
        cli_tools=list(config.cli_tools),
        api_keys=len(config.api_keys),
    )
    if not config.api_keys:
        if config.host in ("127.0.0.1", "localhost", "::1"):
            log.warning("no_api_keys", detail=f"no API_KEYS configured: listening on {config.host} only")
        else:
            log.warning(
                "no_api_keys_on_public_interface",
                detail=f"no API_KEYS configured and HOST={config.host}: anyone who can reach this port "
                "can spend your Claude credentials; set API_KEYS",
            )
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        shutdown_timeout=config.shutdown_grace,
        handler_cancellation=True,
        access_log=None,
        print=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
