"""The server-sent-event stream both APIs answer with."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response


def open_stream(request: web.Request, headers: dict[str, str]) -> AbstractAsyncContextManager[EventSourceResponse]:
    """`\\n` separators as OpenAI sends them, a comment ping every 10 s, and POST allowed."""
    return sse_response(request, headers=headers, sep="\n", ping_interval=10, allow_all_methods=True)
