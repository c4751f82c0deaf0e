"""The WebFetch address gate's table: every host form, as the CLI's URL parser reads it, and its verdict. Pure.

Each row is a URL host and whether WebFetch may fetch it. The gate is asked with a public
address as the "resolved" one, so a row passes only if the host itself is judged: an address
host (in any spelling) is never handed to DNS, whose reading of it could differ from the CLI's.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from supervisor.address_gate import is_public, parse_host
from supervisor.fetch_guard import fetch_denial, fetch_host
from tests.address_forms import FORMS

ALLOW, REFUSE = True, False
PUBLIC = ("93.184.215.14",)


def _whatwg(host: str | None) -> str | None:
    """What `new URL` gives as hostname, without IPv6 brackets."""
    return None if host is None else host.strip("[]")


@pytest.mark.parametrize(("host", "read_as", "allowed"), FORMS, ids=[f[0] for f in FORMS])
def test_each_form_has_its_verdict(host: str, read_as: str | None, allowed: bool) -> None:
    url = f"http://{host}:8080/page"
    assert fetch_host(url) == read_as
    assert (fetch_denial(url, PUBLIC) is None) is allowed


def test_a_name_is_judged_by_what_it_resolves_to() -> None:
    assert fetch_denial("https://example.com/", PUBLIC) is None
    assert fetch_denial("https://example.com/", ("::ffff:0:7f00:1",)) is not None
    assert fetch_denial("https://example.com/", ("64:ff9b:1::a00:1",)) is not None
    assert fetch_denial("https://example.com/", ("8.8.8.8", "fec0::1")) is not None
    assert fetch_denial("https://localhost/", ("127.0.0.1",)) is not None


def test_the_forms_read_as_nodes_whatwg_url_parser_reads_them() -> None:
    """The CLI is a JavaScript program (a Bun binary: WebKit's WHATWG URL parser); Node's `URL`
    implements the same standard, so the table's readings are checked against it here."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = (
        "const out = {}; for (const h of JSON.parse(process.argv[1])) {"
        " try { out[h] = new URL(`http://${h}:8080/page`).hostname } catch { out[h] = null } }"
        " console.log(JSON.stringify(out))"
    )
    hosts = [f[0] for f in FORMS]
    result = subprocess.run([node, "-e", script, json.dumps(hosts)], capture_output=True, text=True, check=True)
    readings = json.loads(result.stdout)
    for host, read_as, _ in FORMS:
        assert _whatwg(readings[host]) == (None if read_as is None else str(read_as)), host


def test_is_public_judges_embedded_addresses_by_the_ipv4_address() -> None:
    host = parse_host("[::ffff:0:10.1.2.3]")
    assert host is not None and not isinstance(host, str)
    assert not is_public(host)
