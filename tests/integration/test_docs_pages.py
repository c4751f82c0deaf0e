"""/docs (Swagger UI) and /redoc (ReDoc), rendered by a real headless Chromium.

Each page must show every operation of the description, call nothing but this server (fonts,
scripts and styles are bundled), and on /docs "Try it out" must really send GET /v1/models and
show its answer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bridge.apidoc.document import build
from tests.browser import Page, open_page
from tests.conftest import MakeBridge

OPERATIONS = [op for ops in build()["paths"].values() for op in ops.values()]


def _only_this_server(page: Page, origin: str, allowed_blocked: tuple[str, ...] = ()) -> None:
    """Nothing left the browser but for this server: anything else was refused by the page's CSP."""
    foreign = [u for u in page.requests if not u.startswith((origin, "data:", "blob:"))]
    assert set(foreign) <= set(page.blocked), f"the page called out: {sorted(set(foreign) - set(page.blocked))}"
    assert set(foreign) <= set(allowed_blocked), f"unexpected outside references (blocked): {foreign}"


async def test_swagger_ui_renders_every_operation_and_tries_one(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(bridge.url))
    async with open_page() as page:
        await page.goto(bridge.url + "/docs")
        count = await page.wait_for(
            f"document.querySelectorAll('.opblock').length >= {len(OPERATIONS)} && "
            "document.querySelectorAll('.opblock').length"
        )
        assert count == len(OPERATIONS)
        shown = await page.evaluate("[...document.querySelectorAll('.opblock')].map(b => b.id)")
        assert set(shown) == {f"operations-{op['tags'][0]}-{op['operationId']}" for op in OPERATIONS}
        block = "document.getElementById('operations-OpenAI-listModels')"
        await page.evaluate(f"{block}.querySelector('.opblock-summary-control').click()")
        await page.wait_for(f"!!{block}.querySelector('.try-out__btn')")
        await page.evaluate(f"{block}.querySelector('.try-out__btn').click()")
        await page.wait_for(f"!!{block}.querySelector('button.execute')")
        await page.evaluate(f"{block}.querySelector('button.execute').click()")
        status = await page.wait_for(
            f"{block}.querySelector('.live-responses-table tr.response .response-col_status')?.textContent.trim()"
        )
        body = await page.evaluate(
            f"{block}.querySelector('.live-responses-table tr.response .response-col_description').textContent"
        )
    assert status == "200"
    assert '"gpt-4o"' in body and '"object": "list"' in body
    assert f"{origin}/v1/models" in page.requests, "the request really left the page"
    _only_this_server(page, origin)


async def test_redoc_renders_every_operation(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(bridge.url))
    async with open_page() as page:
        await page.goto(bridge.url + "/redoc")
        ids = await page.wait_for(
            "(() => { const ids = [...document.querySelectorAll('[data-section-id^=\"operation/\"]')]"
            ".map(e => e.getAttribute('data-section-id')); "
            f"return ids.length >= {len(OPERATIONS)} && ids; }})()"
        )
        text = await page.evaluate("document.body.innerText")
    assert {i.removeprefix("operation/") for i in ids} == {op["operationId"] for op in OPERATIONS}
    assert "Create a chat completion" in text and "/v1/chat/completions" in text
    # ReDoc's sidebar credit loads Redocly's logo from their CDN; the CSP refuses it and ReDoc
    # then leaves the image out (its onError handler).
    _only_this_server(page, origin, allowed_blocked=("https://cdn.redoc.ly/redoc/logo-mini.svg",))
