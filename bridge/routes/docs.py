"""GET /openapi.json and GET /docs: the API description, rendered by a page with no CDN."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bridge.openapi_doc import build

PAGE = Path(__file__).resolve().parent.parent / "static" / "docs.html"


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build())


async def docs(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        PAGE,
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
        },
    )
