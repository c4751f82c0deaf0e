"""Web search sources and citations, and the WebFetch address gate. Pure, no CLI."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import InvalidRequest
from bridge.responses.build import ResponseBuilder
from bridge.responses.request import parse_responses_request, response_id
from bridge.translate.choice import ChoiceAssembler, TextOut
from bridge.translate.citations import Citation, Source, cite, sources_from
from bridge.translate.websearch import Citations, SearchCall
from bridge.validation import parse_chat_request
from supervisor.client_tools import Offer, hook_decision
from supervisor.events import AssistantMessage, MessageStart, Result, TextDelta, UserMessage
from supervisor.fetch_guard import fetch_denial, fetch_host
from tests.openapi import assert_valid

A = Source("https://example.com/a/1", "A one")
B = Source("https://example.com/a/2", "A two")
# The CLI's WebSearch result, as measured (tool_use_result of its `user` line)
SEARCH_RESULT = {
    "query": "a",
    "results": [
        {"tool_use_id": "srvtoolu_1", "content": [{"title": A.title, "url": A.url}, {"title": "", "url": B.url}]},
        "summary",
    ],
    "durationSeconds": 0.1,
    "searchCount": 1,
}
WEB = Offer(cli_tools=("WebSearch", "WebFetch"))


def test_sources_from_the_cli_search_result() -> None:
    assert sources_from(SEARCH_RESULT) == (A, Source(B.url, B.url))
    assert sources_from("Error: failed") == ()


def test_citations_mark_markdown_links_and_bare_urls() -> None:
    text = f"See [A one]({A.url}) and {B.url}. Not {B.url}9 nor {A.url}/deeper."
    assert cite(text, [A, B]) == (
        Citation(A.url, A.title, 4, 4 + len(f"[A one]({A.url})")),
        Citation(B.url, B.title, 41, 41 + len(B.url)),
    )
    assert cite("no links", [A]) == () and cite(text, []) == ()


def test_search_outputs_and_citations_from_cli_events() -> None:
    answer = f"Found: [A one]({A.url})"
    events = [
        MessageStart("m1", "claude"),
        AssistantMessage(
            "m1", "claude", [{"type": "tool_use", "id": "toolu_s", "name": "WebSearch", "input": {"query": "a"}}]
        ),
        UserMessage(
            [{"type": "tool_result", "tool_use_id": "toolu_s", "content": "Web search results..."}], SEARCH_RESULT
        ),
        MessageStart("m2", "claude"),
        TextDelta(None, answer),
        Result(False, "success", "end_turn", "completed", None, answer, {"output_tokens": 3}, 2, {}),
    ]
    out: list[Any] = []
    assembler = ChoiceAssembler()
    for event in events:
        out += assembler.feed(event)
    searches = [o for o in out if isinstance(o, SearchCall)]
    assert searches == [
        SearchCall("toolu_s", "a", "searching"),
        SearchCall("toolu_s", "a", "completed", sources_from(SEARCH_RESULT)),
    ]
    (citations,) = [o for o in out if isinstance(o, Citations)]
    assert citations.annotations == (Citation(A.url, A.title, 7, len(answer)),)
    builder = ResponseBuilder(id="resp_1", echo={})
    events_out = builder.feed(out)
    for event in events_out[:-1]:
        assert_valid("ResponseStreamEvent", event)
    assert builder.output[0]["action"]["sources"] == [{"type": "url", "url": A.url}, {"type": "url", "url": B.url}]
    assert builder.output[1]["content"][0]["annotations"] == [
        {"type": "url_citation", "url": A.url, "title": A.title, "start_index": 7, "end_index": len(answer)}
    ]


def test_a_failed_search_is_a_failed_call_without_sources() -> None:
    assembler = ChoiceAssembler()
    assembler.feed(
        AssistantMessage("m", "c", [{"type": "tool_use", "id": "t", "name": "WebSearch", "input": {"query": "q"}}])
    )
    out = assembler.feed(
        UserMessage([{"type": "tool_result", "tool_use_id": "t", "is_error": True, "content": "x"}], "Error")
    )
    assert out == [SearchCall("t", "q", "failed")]
    builder = ResponseBuilder(id="r", echo={})
    builder.feed([SearchCall("t", "q", "searching"), *out, TextOut("sorry")])
    assert builder.output[0]["status"] == "failed"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("https://medium.com/@someone", "medium.com"),
        ("http://[::1]/", "::1"),
        ("http://127.0.0.1\\@example.com/", None),  # 127.0.0.1 to the CLI, example.com to urlsplit
        ("http://user:pw@example.com/", None),
        ("http://%31%32%37.0.0.1/", None),
        ("http://exa mple.com/", None),
        ("ftp://example.com/", None),
        ("file:///etc/passwd", None),
        ("not a url", None),
    ],
)
def test_fetch_host(url: str, host: str | None) -> None:
    assert fetch_host(url) == host


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:c0a8:101::", False),  # 6to4 of 192.168.1.1
    ],
)
def test_fetch_denial_by_address(address: str, public: bool) -> None:
    assert (fetch_denial("https://example.com/", (address,)) is None) is public


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    assert fetch_denial("https://example.com/", ("8.8.8.8", "10.0.0.1")) is not None
    assert fetch_denial("https://example.com/", ()) is not None, "a host that does not resolve"


def test_hook_gate_for_webfetch() -> None:
    def decide(url: str, addresses: tuple[str, ...] | None, offer: Offer = WEB) -> str:
        request = {"input": {"tool_name": "WebFetch", "tool_input": {"url": url, "prompt": "p"}}}
        return str(hook_decision(offer, request, addresses)["hookSpecificOutput"]["permissionDecision"])

    assert decide("https://example.com/", ("93.184.215.14",)) == "allow"
    assert decide("http://127.0.0.1:9/", ("127.0.0.1",)) == "deny"
    assert decide("https://example.com/", ("93.184.215.14", "127.0.0.1")) == "deny"
    assert decide("https://example.com/", None) == "deny", "no lookup result: refused"
    assert decide("https://example.com/", ("93.184.215.14",), Offer()) == "deny", "not in the allow-list"
    search = {"input": {"tool_name": "WebSearch", "tool_input": {"query": "q"}}}
    assert hook_decision(WEB, search)["hookSpecificOutput"]["permissionDecision"] == "allow"


def test_web_search_parameters_need_web_mode() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "web_search_options": {}}
    with pytest.raises(InvalidRequest) as refused:
        parse_chat_request(body)
    assert refused.value.param == "web_search_options"
    accepted = parse_chat_request({**body, "web_search_options": {"user_location": {"type": "approximate"}}}, web=True)
    assert accepted.web_search and accepted.unapplied == ("web_search_options.user_location",)
    with pytest.raises(InvalidRequest):
        parse_chat_request({**body, "web_search_options": {"search_context_size": "huge"}}, web=True)
    # Offered without web mode (Codex CLI always offers one): left out, and said so; forced: a 400.
    offered = parse_responses_request(
        {"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, [], response_id(None)
    )
    assert not offered.chat.web_search and offered.chat.tools == ()
    assert offered.chat.unapplied == ("tools[0]",)
    with pytest.raises(InvalidRequest) as forced:
        parse_responses_request(
            {"model": "m", "input": "x", "tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}},
            [],
            response_id(None),
        )
    assert forced.value.param == "tool_choice"
    req = parse_responses_request(
        {"model": "m", "input": "x", "tools": [{"type": "web_search_preview", "search_context_size": "high"}]},
        [],
        response_id(None),
        True,
    )
    assert req.chat.web_search and req.chat.unapplied == ("web_search_options.search_context_size",)
    assert req.chat.tools == ()
    with pytest.raises(InvalidRequest) as filters:
        parse_responses_request(
            {"model": "m", "input": "x", "tools": [{"type": "web_search", "filters": {"allowed_domains": ["a.b"]}}]},
            [],
            response_id(None),
            True,
        )
    assert filters.value.param == "tools[0].filters"
    with pytest.raises(InvalidRequest):
        parse_responses_request(
            {"model": "m", "input": "x", "reasoning": {"summary": "verbose"}}, [], response_id(None)
        )
