"""Our own /openapi.json, checked against the running server with schemathesis.

The server is the real `run.py` process (real CLI, fake upstream in another process), so that
schemathesis' synchronous client does not share the test's event loop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from bridge.apidoc.document import build
from bridge.app import create_app
from bridge.config import Config
from tests.conftest import ROOT_DIR, cli_under_test

schema = schemathesis.openapi.from_dict(build())
KEY = "sk-schemathesis"
LOOSE = ("/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("openapi")
    fake_port, port = _port(), _port()
    fake = subprocess.Popen(
        [sys.executable, str(ROOT_DIR / "tests" / "fake_upstream.py"), str(fake_port)],
        cwd=ROOT_DIR,
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "CLAUDE_COMMAND": str(cli_under_test()),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{fake_port}",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "PORT": str(port),
        "POOL_SIZE": "2",
        "HISTORY_DIR": str(work / "h"),
        "SLOT_DIR": str(work / "s"),
        "HOME": str(work),
        "LOG_LEVEL": "WARNING",
        "REQUEST_TIMEOUT": "20",
        "API_KEYS": KEY,
    }
    bridge = subprocess.Popen([sys.executable, str(ROOT_DIR / "run.py")], env=env, cwd=ROOT_DIR)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health").json()["pool"]["warm"] == 2:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        yield base
    finally:
        bridge.terminate()
        fake.terminate()
        assert bridge.wait(30) == 0
        fake.wait(10)


def test_openapi_json_and_the_pages_are_served(server: str) -> None:
    spec = httpx.get(server + "/openapi.json").json()
    generated = build()
    assert spec["paths"].keys() == generated["paths"].keys()
    assert spec["components"] == generated["components"], "served as generated (the UI library adds defaults)"
    assert spec["openapi"].startswith("3.0.") and "/v1/chat/completions" in spec["paths"]
    for page, marker in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        resp = httpx.get(server + page, follow_redirects=True)
        assert resp.status_code == 200 and marker in resp.text
        assert "http://" not in resp.text and "https://" not in resp.text, "served from local files, no CDN"
        assert "default-src 'self'" in resp.headers["content-security-policy"]
        assert httpx.get(server + page + "/swagger.json").json() == spec


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_server_keeps_to_its_description(case: schemathesis.Case, server: str) -> None:
    # The request bodies of the two model endpoints are described loosely on purpose (OpenAI's
    # reference is the authority), so "schema-valid body rejected" is not a finding there.
    excluded = [positive_data_acceptance] if case.method == "POST" and case.path in LOOSE else []
    # Unknown query parameters and headers are ignored, as OpenAI's API ignores them.
    excluded.append(negative_data_rejection)
    case.call_and_validate(
        base_url=server, timeout=30, headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=excluded
    )


def test_every_route_is_described() -> None:
    app = create_app(Config.from_env({"PATH": os.environ["PATH"]}))
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method not in ("HEAD", "OPTIONS") and route.resource is not None
        if not route.resource.canonical.startswith(("/docs", "/redoc"))
    }
    described = {(method, path) for path, methods in build()["paths"].items() for method in methods}
    assert served == described
