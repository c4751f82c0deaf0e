"""Web search through the CLI's WebSearch (web mode only), its citations, and the WebFetch gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.address_forms import FORMS
from tests.conftest import Bridge, MakeBridge
from tests.fake_upstream import block_text
from tests.openapi import assert_valid
from tests.responses_events import validate_events

SEARCH = "<<websearch:bridge news>>"
LINKS = [
    ("https://example.com/bridge-news/1", "bridge news (1)"),
    ("https://example.com/bridge-news/2", "bridge news (2)"),
]


@pytest.fixture
async def web_bridge(make_bridge: MakeBridge) -> Bridge:
    return await make_bridge(SECURITY_MODE="web", POOL_SIZE="1")


async def test_none_mode_refuses_web_search(bridge: Bridge) -> None:
    async with bridge.http() as http:
        chat = await http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "web_search_options": {}, "messages": [{"role": "user", "content": "x"}]},
        )
        forced = await http.post(
            "/v1/responses",
            json={
                "model": "gpt-4o",
                "input": "x",
                "tools": [{"type": "web_search_preview"}],
                "tool_choice": {"type": "web_search_preview"},
            },
        )
        assert not bridge.fake.messages_requests(), "nothing reached the model"
        # Offered but not forced (Codex CLI offers one on every request): left out, and said so.
        offered = await http.post(
            "/v1/responses",
            json={"model": "gpt-4o", "input": "offered <<say:no search>>", "tools": [{"type": "web_search_preview"}]},
        )
    assert chat.status_code == 400
    assert chat.json()["error"]["param"] == "web_search_options"
    assert chat.json()["error"]["code"] == "unsupported_parameter"
    assert "SECURITY_MODE=web" in chat.json()["error"]["message"]
    assert forced.status_code == 400 and forced.json()["error"]["param"] == "tool_choice"
    assert offered.status_code == 200 and offered.json()["output_text"] == "no search"
    assert offered.headers["X-Bridge-Unapplied-Params"] == "tools[0]"
    (req,) = bridge.fake.find("offered")
    assert not [t for t in req.body.get("tools", []) if "web" in t.get("name", "").lower()]


async def test_chat_answer_cites_the_search_results(web_bridge: Bridge) -> None:
    client = web_bridge.client()
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        web_search_options={"search_context_size": "low"},
        messages=[{"role": "user", "content": f"news? {SEARCH}"}],
    )
    assert raw.headers["X-Bridge-Unapplied-Params"] == "web_search_options.search_context_size"
    message = raw.parse().choices[0].message
    content = message.content or ""
    cited = [(a.url_citation.url, a.url_citation.title) for a in message.annotations or []]
    assert cited == LINKS
    for annotation in message.annotations or []:
        span = content[annotation.url_citation.start_index : annotation.url_citation.end_index]
        assert span == f"[{annotation.url_citation.title}]({annotation.url_citation.url})"
    # The CLI ran its own search request with Anthropic's server-side tool.
    search = [
        r for r in web_bridge.fake.messages_requests() if r.body.get("tools", [{}])[0].get("name") == "web_search"
    ]
    assert len(search) == 1 and search[0].body["tools"][0]["type"].startswith("web_search_")
    assert "bridge news" in block_text(search[0].messages[-1]["content"])


async def test_streamed_chat_carries_the_annotations_before_the_finish(web_bridge: Bridge) -> None:
    async with web_bridge.http() as http:
        raw = (
            await http.post(
                "/v1/chat/completions",
                json={
                    "model": "gpt-4o",
                    "stream": True,
                    "web_search_options": {},
                    "messages": [{"role": "user", "content": f"stream news {SEARCH}"}],
                },
            )
        ).content
    chunks = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: {")]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    (with_annotations,) = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("annotations")]
    annotations = with_annotations["choices"][0]["delta"]["annotations"]
    assert [(a["url_citation"]["url"], a["url_citation"]["title"]) for a in annotations] == LINKS
    first = annotations[0]["url_citation"]
    assert content[first["start_index"] : first["end_index"]] == f"[{LINKS[0][1]}]({LINKS[0][0]})"
    assert chunks.index(with_annotations) < next(
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["finish_reason"]
    )


async def test_responses_report_the_search_call_and_citations(web_bridge: Bridge) -> None:
    async with web_bridge.http() as http:
        body = (
            await http.post(
                "/v1/responses",
                json={"model": "gpt-4o", "input": f"resp news {SEARCH}", "tools": [{"type": "web_search"}]},
            )
        ).json()
    assert_valid("Response", body)
    call, message = body["output"]
    assert call["type"] == "web_search_call" and call["status"] == "completed"
    assert call["action"] == {
        "type": "search",
        "query": "bridge news",
        "sources": [{"type": "url", "url": url} for url, _ in LINKS],
    }
    annotations = message["content"][0]["annotations"]
    assert [(a["url"], a["title"]) for a in annotations] == LINKS
    text = message["content"][0]["text"]
    for a in annotations:
        assert a["type"] == "url_citation" and text[a["start_index"] : a["end_index"]].endswith(f"({a['url']})")
    assert body["tools"] == [{"type": "web_search"}]


async def test_responses_stream_search_events(web_bridge: Bridge) -> None:
    async with web_bridge.http() as http:
        raw = (
            await http.post(
                "/v1/responses",
                json={
                    "model": "gpt-4o",
                    "input": f"resp stream news {SEARCH}",
                    "tools": [{"type": "web_search_preview"}],
                    "stream": True,
                },
            )
        ).content
    events = validate_events(raw)
    kinds = [e["type"] for e in events]
    assert kinds[:7] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    assert kinds.count("response.output_text.annotation.added") == 2
    assert kinds.index("response.output_text.annotation.added") < kinds.index("response.output_text.done")
    assert events[-1]["type"] == "response.completed"


@pytest.fixture
async def loopback_page() -> AsyncIterator[tuple[str, list[str]]]:
    """A real listener on 127.0.0.1 that records every connection (the CLI upgrades http to https,
    so a connection, not a served page, is what an attempted fetch looks like)."""
    connections: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\nPRIVATE-LOOPBACK-PAGE")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/", connections
    server.close()
    await server.wait_closed()


async def test_webfetch_of_a_loopback_address_fetches_nothing(
    web_bridge: Bridge, loopback_page: tuple[str, list[str]]
) -> None:
    url, connections = loopback_page
    client = web_bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"fetch it <<fetch:{url}>>"}]
    )
    assert connections == [], "the CLI connected to the loopback listener"
    assert "PRIVATE-LOOPBACK-PAGE" not in (resp.choices[0].message.content or "")
    follow_up = web_bridge.fake.messages_requests()[-1]
    (result,) = [
        b
        for m in follow_up.messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    assert result.get("is_error") is True
    assert "refused by the bridge" in block_text(result["content"]), "the bridge's own gate refused it"
    assert "non-public address" in block_text(result["content"])


# Every form of a non-public host the gate must refuse (issue 17): the refused rows of the
# gate's table that the CLI's URL parser accepts (numeric spellings of the loopback listener's
# address, IPv6 forms embedding a private IPv4 address, the special ranges). The rows it rejects
# never reach the gate: the CLI refuses them as invalid URLs first.
BAD_HOSTS = [host for host, read_as, allowed in FORMS if not allowed and read_as is not None]


@pytest.fixture
async def loopback_listener() -> AsyncIterator[tuple[int, list[str]]]:
    """One port listening on 127.0.0.1 and ::1, counting every accepted TCP connection (the
    count is taken when the connection is accepted, before anything is read)."""
    connections: list[str] = []

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        writer.close()

    server4 = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server4.sockets[0].getsockname()[1]
    servers = [server4]
    try:
        servers.append(await asyncio.start_server(accepted, "::1", port))
    except OSError:
        pass  # no IPv6 loopback here: the IPv6 forms still must not reach the IPv4 one
    yield port, connections
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_webfetch_of_every_non_public_form_fetches_nothing(
    web_bridge: Bridge, loopback_listener: tuple[int, list[str]]
) -> None:
    port, connections = loopback_listener
    urls = [f"http://{host}:{port}/" for host in BAD_HOSTS]
    calls = json.dumps([["WebFetch", {"url": url, "prompt": "Summarise the page."}] for url in urls])
    client = web_bridge.client()
    await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"fetch them <<calls:{calls}>>"}]
    )
    assert connections == [], "the CLI connected to the loopback listener"
    follow_up = web_bridge.fake.messages_requests()[-1]
    calls_made = {
        b["id"]: b["input"]["url"]
        for m in follow_up.messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_use"
    }
    results = {
        b["tool_use_id"]: b
        for m in follow_up.messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_result"
    }
    assert sorted(calls_made.values()) == sorted(urls)
    for call_id, url in calls_made.items():
        result = results[call_id]
        assert result.get("is_error") is True, url
        assert "refused by the bridge" in block_text(result["content"]), (url, block_text(result["content"]))


async def test_the_cli_reads_numeric_hosts_as_the_gate_does(
    web_bridge: Bridge, monkeypatch: pytest.MonkeyPatch, loopback_listener: tuple[int, list[str]]
) -> None:
    """The CLI-finding behind the gate's table: with the gate's address check switched off (in this
    test only), the CLI's own refusals show how it read each host. Its domain preflight fails on a
    machine without internet and names the host as parsed ("Unable to verify if domain 127.0.0.1");
    every IPv6 host is refused by its "no dot" rule; a host its URL parser rejects is an
    InputValidationError. A new CLI version that reads a form differently fails here."""
    from supervisor import client_tools

    monkeypatch.setattr(client_tools, "fetch_denial", lambda url, addresses: None)
    port, connections = loopback_listener
    urls = {f"http://{host}:{port}/": (host, read_as) for host, read_as, _ in FORMS}
    calls = json.dumps([["WebFetch", {"url": url, "prompt": "p"}] for url in urls])
    await web_bridge.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"read them <<calls:{calls}>>"}]
    )
    follow_up = web_bridge.fake.messages_requests()[-1]
    blocks = [b for m in follow_up.messages if isinstance(m["content"], list) for b in m["content"]]
    said = {b["tool_use_id"]: block_text(b["content"]) for b in blocks if b["type"] == "tool_result"}
    readings = {b["input"]["url"]: said[b["id"]] for b in blocks if b["type"] == "tool_use"}
    if "Unable to verify if domain" not in readings[f"http://8.8.8.8:{port}/"]:
        pytest.skip("the CLI's domain preflight answered (this machine reaches api.anthropic.com)")
    assert connections == []
    for url, (host, read_as) in urls.items():
        text = readings[url]
        if read_as is None:
            assert "InputValidationError" in text and "Invalid URL" in text, (host, text)
        elif host.startswith("["):
            assert "hostnames without a dot" in text, (host, text)
        else:
            assert f"Unable to verify if domain {read_as} is safe" in text, (host, text)
