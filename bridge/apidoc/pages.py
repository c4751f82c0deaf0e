"""GET /openapi.json, and the API pages: Swagger UI at /docs and ReDoc at /redoc.

Both pages come from aiohttp-swagger3, which bundles their scripts, styles and fonts: nothing is
fetched from a CDN, and the page's own Content-Security-Policy (`add_csp`) says so.
Request validation by that library stays off: the bridge's validators own every error message.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from aiohttp import web
from aiohttp_swagger3 import ReDocUiSettings, SwaggerUiSettings
from aiohttp_swagger3.routes import _SWAGGER_SPECIFICATION
from aiohttp_swagger3.swagger import Swagger

from bridge.apidoc.document import build

DOC_PATHS = ("/docs", "/redoc")
# The pages run inline scripts and styles of their own and ReDoc starts a worker from a blob;
# nothing may come from anywhere but this server.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


@functools.cache
def spec() -> dict[str, Any]:
    return build()


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(spec())


def add_pages(app: web.Application) -> None:
    """Registers /docs (Swagger UI, with "Try it out") and /redoc on the app's own router."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)  # the library keys its state by strings
        Swagger(
            app,
            validate=False,
            spec=spec(),
            request_key="data",
            # No online spec validator: the page must not call out.
            swagger_ui_settings=SwaggerUiSettings(path="/docs", validatorUrl=None, displayRequestDuration=True),
            redoc_ui_settings=ReDocUiSettings(path="/redoc"),
            rapidoc_ui_settings=None,
        )
        app[_SWAGGER_SPECIFICATION] = spec()


def is_doc_page(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOC_PATHS)


async def add_csp(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the pages' Content-Security-Policy."""
    if is_doc_page(request.path):
        response.headers["Content-Security-Policy"] = CSP
