"""The one error middleware: every failure of a request leaves as the body its API documents.

Kept apart from the exception types (bridge/errors.py) so that modules low in the stack can raise
them without importing the application's keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from bridge.appkeys import REQUEST_ID
from bridge.errors import ApiError, anthropic_error, is_anthropic_route, to_api_error
from bridge.storage.base import StoreError
from supervisor import errors as sup

log = structlog.get_logger(__name__)


def error_response(err: ApiError, request: web.Request | None = None) -> web.Response:
    if request is not None and is_anthropic_route(request.path):
        request_id = request.get(REQUEST_ID)
        status, body = anthropic_error(err, request_id)
        headers = {**err.headers, **({"request-id": request_id} if request_id else {})}
        return web.json_response(body, status=status, headers=headers)
    return web.json_response(err.body(), status=err.status, headers=err.headers)


@web.middleware
async def error_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(to_api_error(exc), request)
    except (ApiError, sup.SupervisorError, StoreError) as exc:
        err = to_api_error(exc)
        log.info("request_failed", status=err.status, code=err.code, error=err.message[:300])
        return error_response(err, request)
    except Exception:
        log.exception("unhandled_error")
        return error_response(to_api_error(RuntimeError()), request)
