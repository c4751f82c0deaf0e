"""Who may call, how often, how much, and from which web origins: API keys, rate limits,
spending budgets, CORS.

Keys are compared in constant time against every configured key (sent as `Authorization: Bearer`,
`api-key`, or Anthropic's `x-api-key`). Limits apply per key (per client address when no keys are
configured): requests per minute for every /v1 call, and concurrent model turns for the routes
that use a CLI process. A key past its KEY_BUDGETS gets 429 `insufficient_quota` on the
generation routes before any process is used (and again when a queued turn gets its process,
see `bridge.spend.guard`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from bridge import appkeys
from bridge.errors import ApiError
from bridge.spend.budgets import ANONYMOUS, fingerprint

GENERATION_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/messages")
TURN_PATHS = (*GENERATION_PATHS, "/v1/messages/count_tokens")  # each holds a CLI process
CLIENT = web.RequestKey("client", str)
RATE_HEADERS = web.RequestKey("rate_headers", dict)
REPLICA_HEADER = "X-Bridge-Replica"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("api-key") or request.headers.get("x-api-key") or None


def is_admin(request: web.Request) -> bool:
    """Whether the caller presented one of ADMIN_API_KEYS."""
    admins = request.app[appkeys.CONFIG].admin_api_keys
    key = presented_key(request)
    return bool(admins) and key is not None and key_matches(key, admins)


def key_matches(candidate: str, keys: tuple[str, ...]) -> bool:
    found = False
    for key in keys:  # no early exit: the time taken does not depend on which key matched
        found |= hmac.compare_digest(candidate.encode(), key.encode())
    return found


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[appkeys.CONFIG]
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        return preflight(request)
    path = request.path
    guarded = path.startswith("/v1/") or (path == "/metrics" and config.metrics_require_key)
    client = request.remote or "unknown"
    if config.api_keys and guarded:
        key = presented_key(request)
        if key is None:
            raise ApiError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>').",
                status=401,
                code="missing_api_key",
            )
        if not key_matches(key, config.api_keys):
            raise ApiError("Incorrect API key provided.", status=401, code="invalid_api_key")
        client = fingerprint(key)
    request[CLIENT] = client
    request[appkeys.ACCOUNT] = client if config.api_keys else ANONYMOUS
    if not path.startswith("/v1/"):
        return await handler(request)
    limiter = request.app[appkeys.LIMITER]
    request[RATE_HEADERS] = limiter.take(client)
    if path not in TURN_PATHS or request.method != "POST":
        return await handler(request)
    if path in GENERATION_PATHS and config.key_budgets:
        await request.app[appkeys.BUDGETS].check(request[appkeys.ACCOUNT])
    limiter.enter(client)
    try:
        return await handler(request)
    finally:
        limiter.leave(client)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: rate-limit, replica and CORS headers, also on streamed responses."""
    for name, value in request.get(RATE_HEADERS, {}).items():
        response.headers[name] = value
    replica = request.app[appkeys.CONFIG].replica_id
    if replica:  # behind a load balancer: which replica answered (tests and operators read it)
        response.headers[REPLICA_HEADER] = replica
    origins = request.app[appkeys.CONFIG].cors_origins
    origin = request.headers.get("Origin")
    if origins and origin and ("*" in origins or origin in origins):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
        response.headers["Access-Control-Expose-Headers"] = (
            "X-Request-ID, request-id, X-Session-ID, X-Bridge-Unapplied-Params, X-Bridge-Usage-Estimated, "
            "X-Bridge-Session, X-Bridge-Replica, "
            "x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, Retry-After"
        )
        if "*" not in origins:
            response.headers["Vary"] = "Origin"


def preflight(request: web.Request) -> web.Response:
    """A CORS preflight on any path: allowed when CORS_ORIGINS names the origin, else 404."""
    origins = request.app[appkeys.CONFIG].cors_origins
    origin = request.headers.get("Origin")
    if not origins or not origin or not ("*" in origins or origin in origins):
        raise web.HTTPNotFound()
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, api-key, x-api-key, anthropic-version, "
            "anthropic-beta, X-Session-ID, X-Request-ID, Idempotency-Key, "
            "OpenAI-Organization, OpenAI-Project, X-Stainless-*",
            "Access-Control-Max-Age": "600",
        },
    )
