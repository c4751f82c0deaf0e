"""GET /, /health, /v1/models and /v1/models/{id}."""

from __future__ import annotations

import time

from aiohttp import web

from bridge import __version__, appkeys
from bridge.errors import AUTH_HELP, ModelNotFound
from bridge.json_boundary import to_json
from bridge.modelmap import UnknownModel
from bridge.schemas import ModelCard, ModelList
from bridge.upstream_report import accounts_report
from supervisor.auth import classify

STARTED = int(time.time())


async def index(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "name": "Claude OpenAI Bridge",
            "version": __version__,
            "cli_version": request.app[appkeys.CLI_VERSION],
            "features": {
                "chat_completions": True,
                "streaming": True,
                "stream_usage": True,
                "warm_process_pool": True,
                "function_calling": True,
                "structured_output": True,
                "images": True,
                "stop_sequences": True,
                "n": True,
                "sessions": True,
                "idempotent_session_turns": True,
                "responses_api": True,
                "anthropic_messages_api": True,
                "count_tokens": True,
                "usage_per_key": True,
                "key_budgets": bool(request.app[appkeys.CONFIG].key_budgets),
                "reasoning": True,
                "web_search": request.app[appkeys.CONFIG].web_search,
            },
            "links": {
                "health": "/health",
                "models": "/v1/models",
                "chat_completions": "/v1/chat/completions",
                "responses": "/v1/responses",
                "messages": "/v1/messages",
                "count_tokens": "/v1/messages/count_tokens",
                "usage": "/v1/usage",
                "sessions": "/v1/sessions",
                "security": "/v1/security",
                "metrics": "/metrics",
                "openapi": "/openapi.json",
                "docs": "/docs",
                "redoc": "/redoc",
            },
        }
    )


async def security(request: web.Request) -> web.Response:
    """The effective security configuration (never a secret)."""
    config = request.app[appkeys.CONFIG]
    return web.json_response(
        {
            "mode": config.security_mode,
            "cli_tools": list(config.cli_tools),
            "allowed_tools": list(config.allowed_tools),
            "disallowed_tools": list(config.disallowed_tools),
            "tool_policy": "allow-list: only the tools in cli_tools are offered or allowed; every other tool "
            "call is denied by a PreToolUse hook; client functions are deferred and never executed",
            "mcp_servers": "none from the host (--strict-mcp-config); client functions only, via the bridge",
            "settings_sources": "none (--setting-sources '')",
            "working_directory": "an empty throwaway directory and HOME per CLI process",
            "permission_skipping": False,
            "api_keys_required": bool(config.api_keys),
            "api_keys_configured": len(config.api_keys),
            "admin_api_keys_configured": len(config.admin_api_keys),
            "key_budgets": {who: dict(periods) for who, periods in config.key_budgets.items()},
            "rate_limits": {
                "requests_per_minute": config.rate_limit_rpm or None,
                "concurrent_turns": config.rate_limit_concurrent or None,
            },
            "cors_origins": list(config.cors_origins),
            "metrics_require_key": config.metrics_require_key,
        }
    )


async def health(request: web.Request) -> web.Response:
    """503 whenever no model request can be answered (no CLI process can start, or the CLI has no
    credentials), so that a load balancer sends no traffic; the body says why and what to do."""
    pool = request.app[appkeys.POOL]
    upstreams = request.app[appkeys.UPSTREAMS]
    stats = upstreams.stats()  # every upstream account's processes together
    auth = classify(pool.cli_account)
    if upstreams.unavailable:
        status, code = "unavailable", 503
    elif auth.missing:
        status, code = "unauthenticated", 503
    elif stats["warm"] + stats["busy"] + stats["resetting"] == 0:
        status, code = "starting", 200
    else:
        status, code = "ok", 200
    body: dict[str, object] = {
        "status": status,
        "replica": request.app[appkeys.CONFIG].replica_id or None,
        "auth": auth.kind,
        "auth_source": auth.source,
        "cli_version": request.app[appkeys.CLI_VERSION],
        "pool": {k: stats[k] for k in ("size", "warm", "busy", "starting", "resetting", "restarts")},
        "queue_depth": stats["queue_depth"],
        "last_start_error": pool.last_start_error if pool.unavailable else None,
        "upstream_accounts": accounts_report(upstreams),
    }
    if auth.missing:
        body["auth_help"] = AUTH_HELP
    return web.json_response(body, status=code)


def _card(model_id: str) -> ModelCard:
    owner = (
        "anthropic"
        if model_id.startswith("claude") or model_id in ("sonnet", "opus", "haiku")
        else "claude-openai-bridge"
    )
    return ModelCard(id=model_id, created=STARTED, owned_by=owner)


def _cli_ids(request: web.Request) -> list[str]:
    ids: list[str] = []
    for model in request.app[appkeys.POOL].cli_models:
        ids.extend(str(model[key]) for key in ("value", "resolvedModel") if model.get(key))
    return [i for i in ids if i != "default"]


async def list_models(request: web.Request) -> web.Response:
    ids = request.app[appkeys.MODELS].ids(_cli_ids(request))
    return web.json_response(to_json(ModelList(data=tuple(_card(i) for i in ids))))


async def get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    try:
        request.app[appkeys.MODELS].resolve(model_id, _cli_ids(request))
    except UnknownModel:
        raise ModelNotFound(model_id) from None
    return web.json_response(to_json(_card(model_id)))
