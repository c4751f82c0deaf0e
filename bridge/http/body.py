"""Reading a JSON request body with OpenAI-style errors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge import jsonsafe
from bridge.errors import ApiError, InvalidRequest


async def read_json(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(
            f"Request body too large: the limit is {request.client_max_size} bytes.",
            status=413,
            code="request_too_large",
        ) from None
    if not raw.strip():
        raise InvalidRequest("The request body is empty: expected a JSON object.", code="invalid_json")
    try:
        return jsonsafe.loads(raw)
    except jsonsafe.JsonTooDeep as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request: {exc} (this server's limit).",
            code="invalid_json",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload.) " + str(exc)[:200],
            code="invalid_json",
        ) from None
