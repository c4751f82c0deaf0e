"""Domain errors and how each becomes an error body: OpenAI's, or Anthropic's on the Messages API
routes (`/v1/messages...`). The middleware that applies this is bridge/error_middleware.py.

Handlers raise; nothing below this module knows about HTTP status codes or JSON envelopes.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from bridge.storage.base import CorruptRecord, StoreError
from supervisor import errors as sup


class ApiError(Exception):
    status = 400
    type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class ModelNotFound(NotFound):
    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )


class RateLimited(ApiError):
    status = 429
    type = "requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(
            message,
            code="rate_limit_exceeded",
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        )


class InsufficientQuota(ApiError):
    """A key's spending budget is used up: OpenAI's 429 `insufficient_quota`, which clients must not retry."""

    status = 429
    type = "insufficient_quota"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="insufficient_quota", headers={"x-should-retry": "false"})


class UpstreamFailure(ApiError):
    status = 502
    type = "api_error"


class Unavailable(ApiError):
    status = 503
    type = "api_error"


AUTH_HELP = (
    "Set ANTHROPIC_API_KEY for the bridge (in its environment or .env) and restart it, or log in once with the "
    "pinned CLI as the user that runs the bridge: `.tools/node_modules/.bin/claude auth login` (it stores "
    "~/.claude/.credentials.json), then restart the bridge."
)


class NotAuthenticated(ApiError):
    """The CLI has no upstream credentials: nothing can be answered until an operator adds some.

    503, since the fault is the server's; `x-should-retry: false` tells the openai SDKs (which
    retry every 5xx by default) that retrying cannot help.
    """

    status = 503
    type = "api_error"

    def __init__(self) -> None:
        super().__init__(
            "The Claude CLI behind this bridge is not authenticated, so it cannot answer. " + AUTH_HELP,
            code="upstream_not_authenticated",
            headers={"x-should-retry": "false"},
        )


class GatewayTimeout(ApiError):
    status = 504
    type = "timeout"


def from_supervisor(exc: sup.SupervisorError) -> ApiError:
    """Maps what went wrong below the HTTP layer onto an OpenAI-style error."""
    if isinstance(exc, (sup.QueueFull, sup.QueueTimeout)):
        return RateLimited(f"{exc}; try again shortly.", exc.retry_after)
    if isinstance(exc, sup.PlanLimited):
        return RateLimited(f"{exc}. Try again after the reset.", exc.retry_after)
    if isinstance(exc, sup.TurnTimeout):
        return GatewayTimeout(str(exc), code="timeout")
    if isinstance(exc, sup.PoolUnavailable):
        return Unavailable(str(exc), code="cli_unavailable")
    if isinstance(exc, sup.PoolClosed):
        return Unavailable(str(exc), code="shutting_down")
    if isinstance(exc, sup.UpstreamError):
        return _from_upstream(exc)
    return UpstreamFailure(f"the Claude CLI failed: {exc}", code="cli_error")


def _from_upstream(exc: sup.UpstreamError) -> ApiError:
    status, text = exc.status, str(exc)
    if exc.not_authenticated:
        return NotAuthenticated()
    if exc.timed_out:
        return GatewayTimeout(f"the upstream did not answer in time: {text}", code="upstream_timeout")
    if status in (401, 403):
        return UpstreamFailure(
            f"the bridge's upstream credentials were rejected by Anthropic (HTTP {status}); "
            f"check ANTHROPIC_API_KEY or the CLI login: {text}",
            code="upstream_authentication_failed",
        )
    if status == 429:
        return RateLimited(f"the upstream is rate limiting requests: {text}", 10)
    if status == 529:
        return Unavailable(f"the upstream is overloaded: {text}", code="upstream_overloaded")
    if status == 404:
        return NotFound(
            f"the upstream does not know this model: {text}",
            param="model",
            code="model_not_found",
        )
    if status is not None and 400 <= status < 500:
        return InvalidRequest(
            f"the upstream rejected the request: {text}",
            code="upstream_invalid_request",
        )
    return UpstreamFailure(f"the upstream failed: {text}", code="upstream_error")


def to_api_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, CorruptRecord):
        return ApiError(
            f"{exc}. Other records are not affected.", status=500, type="server_error", code="corrupt_record"
        )
    if isinstance(exc, StoreError):
        return Unavailable(f"storage is unavailable: {exc}", code="storage_unavailable")
    if isinstance(exc, sup.SupervisorError):
        return from_supervisor(exc)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return ApiError(f"Request body too large: {exc.text}", status=413, code="request_too_large")
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("Unknown request URL. Please check the URL and method.", code="unknown_url")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return ApiError(
            f"Method {exc.method} not allowed for this URL.",
            status=405,
            code="method_not_allowed",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    if isinstance(exc, web.HTTPException):
        return ApiError(exc.reason, status=exc.status)
    return ApiError(
        "The server had an error while processing your request.",
        status=500,
        type="server_error",
    )


# Anthropic's documented status/type pairs; another 4xx is an invalid_request_error, another 5xx an api_error.
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
OVERLOADED = ("upstream_overloaded", "shutting_down")


def is_anthropic_route(path: str) -> bool:
    return path == "/v1/messages" or path.startswith("/v1/messages/")


def anthropic_error(err: ApiError, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """(status, body) in Anthropic's shape: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    status = err.status
    if status == 503 or err.code in OVERLOADED:
        status = 529 if err.code in OVERLOADED else 500
    elif status >= 500 and status not in ANTHROPIC_TYPES:
        status = 500
    kind = ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": err.message}}
    if request_id:
        body["request_id"] = request_id
    return status, body
