"""`create_app(config)`: wires the application together and does nothing else."""

from __future__ import annotations

from aiohttp import web

from bridge import appkeys
from bridge.access import access_middleware, add_headers
from bridge.apidoc import pages as docs
from bridge.chat import handler as chat
from bridge.config import Config
from bridge.error_middleware import error_middleware
from bridge.logs import request_context_middleware
from bridge.messages import handler as messages
from bridge.metrics import Metrics
from bridge.metrics_http import metrics_middleware, metrics_view
from bridge.modelmap import ModelMap
from bridge.ratelimit import RateLimiter
from bridge.resources import pool_ctx, storage_ctx
from bridge.responses import handler as responses
from bridge.responses import stored as stored_responses
from bridge.routes import info, limits, sessions, usage
from bridge.seal import SealKeys
from bridge.thinking_cache import ThinkingCache


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[request_context_middleware, metrics_middleware, error_middleware, access_middleware],
        client_max_size=config.max_request_bytes,
    )
    app[appkeys.CONFIG] = config
    app[appkeys.MODELS] = ModelMap.load(config.model_map_file, config.model_map_override)
    app[appkeys.METRICS] = Metrics()
    app[appkeys.LIMITER] = RateLimiter(config.rate_limit_rpm, config.rate_limit_concurrent)
    app[appkeys.THINKING] = ThinkingCache()
    app[appkeys.SEAL] = SealKeys(config.reasoning_key)
    app.on_response_prepare.append(add_headers)
    app.on_response_prepare.append(docs.add_csp)
    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/", info.index)
    app.router.add_get("/health", info.health)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/openapi.json", docs.openapi)
    docs.add_pages(app)  # /docs (Swagger UI) and /redoc (ReDoc)
    app.router.add_get("/v1/security", info.security)
    app.router.add_get("/v1/models", info.list_models)
    app.router.add_get("/v1/models/{model_id}", info.get_model)
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_post("/v1/messages", messages.create)
    app.router.add_post("/v1/messages/count_tokens", messages.count_tokens)
    app.router.add_get("/v1/usage", usage.usage)
    app.router.add_get("/v1/limits", limits.limits)
    app.router.add_post("/v1/responses", responses.create)
    app.router.add_get("/v1/responses", stored_responses.list_responses)
    app.router.add_get("/v1/responses/{response_id}", stored_responses.retrieve)
    app.router.add_delete("/v1/responses/{response_id}", stored_responses.delete)
    app.router.add_get("/v1/responses/{response_id}/input_items", stored_responses.input_items)
    app.router.add_post("/v1/sessions", sessions.create)
    app.router.add_get("/v1/sessions", sessions.list_sessions)
    app.router.add_get("/v1/sessions/{session_id}", sessions.get)
    app.router.add_delete("/v1/sessions/{session_id}", sessions.delete)
    app.router.add_post("/v1/sessions/{session_id}/clear", sessions.clear)
    return app
