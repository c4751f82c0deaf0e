"""The hostile set: what a hostile client sends never gets a 5xx, and never starts any work.

Ids with control characters (in the path, a header or the body), JSON nested past any sane
depth, and arrays far past any sane length are each refused with an OpenAI-format 4xx before
anything reaches a CLI process or the upstream, and before anything is written to storage.
One bridge serves the whole module: every request here is refused before it needs a slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from tests.conftest import Bridge, start_bridge, stop_bridge
from tests.fake_upstream import FakeUpstream

pytestmark = pytest.mark.asyncio(loop_scope="module")

USER = [{"role": "user", "content": "hi"}]
MAX_DEPTH = 64  # the documented nesting limit of a JSON body (README, Limits)
CTRL = ["abc\n", "abc\r\nX-Injected: 1", "a\x00b", "a\tb", "a\x1bb", "a\x7fb", " abc", "abc ", "ab\u2028c"]


@attrs.frozen
class Hostile:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    status: int | None = 400  # None: any 4xx
    code: str | None = None
    param: str | None = None


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _chat(**extra: Any) -> bytes:
    return _json({"model": "gpt-4o", "messages": USER, **extra})


def _deep(opening: str, closing: str, depth: int, inner: str = "1") -> bytes:
    return (opening * depth + inner + closing * depth).encode()


def _cases() -> list[Hostile]:
    cases: list[Hostile] = []
    for i, bad in enumerate(CTRL):
        enc = bad.encode().hex()
        quoted = "".join(f"%{b:02X}" for b in bad.encode())
        cases += [
            Hostile(f"body-session_id-{i}", "POST", "/v1/chat/completions", _chat(session_id=bad), param="session_id"),
            Hostile(
                f"body-previous_response_id-{i}",
                "POST",
                "/v1/responses",
                _json({"model": "gpt-4o", "input": "hi", "previous_response_id": bad}),
                param="previous_response_id",
            ),
            Hostile(
                f"body-tool_call_id-{i}",
                "POST",
                "/v1/chat/completions",
                _json(
                    {
                        "model": "gpt-4o",
                        "messages": [
                            *USER,
                            {
                                "role": "assistant",
                                "content": None,
                                "tool_calls": [
                                    {"id": bad, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                                ],
                            },
                            {"role": "tool", "tool_call_id": bad, "content": "x"},
                        ],
                    }
                ),
                param="messages[1].tool_calls[0].id",
            ),
            Hostile(
                f"body-tool-name-{i}",
                "POST",
                "/v1/chat/completions",
                _chat(tools=[{"type": "function", "function": {"name": "f" + bad}}]),
                param="tools[0].function.name",
            ),
            Hostile(
                f"body-schema-name-{i}",
                "POST",
                "/v1/chat/completions",
                _chat(response_format={"type": "json_schema", "json_schema": {"name": "n" + bad, "schema": {}}}),
                param="response_format.json_schema.name",
            ),
            Hostile(
                f"body-model-{i}",
                "POST",
                "/v1/chat/completions",
                _json({"model": "gpt-4o" + bad, "messages": USER}),
                status=404,
                code="model_not_found",
                param="model",
            ),
            Hostile(
                f"body-claude-model-{i}",
                "POST",
                "/v1/chat/completions",
                _json({"model": "claude-x" + bad, "messages": USER}),
                status=404,
                code="model_not_found",
            ),
            Hostile(f"path-session-get-{enc}", "GET", f"/v1/sessions/s{quoted}", param="session_id"),
            Hostile(f"path-session-delete-{enc}", "DELETE", f"/v1/sessions/s{quoted}", param="session_id"),
            Hostile(f"path-session-clear-{enc}", "POST", f"/v1/sessions/s{quoted}/clear", param="session_id"),
            Hostile(f"path-response-get-{enc}", "GET", f"/v1/responses/r{quoted}", param="response_id"),
            Hostile(f"path-response-delete-{enc}", "DELETE", f"/v1/responses/r{quoted}", param="response_id"),
            Hostile(f"path-input-items-{enc}", "GET", f"/v1/responses/r{quoted}/input_items", param="response_id"),
            Hostile(f"path-model-{enc}", "GET", f"/v1/models/gpt-4o{quoted}", status=404, code="model_not_found"),
        ]
    # Header values: HTAB is legal on the wire; other control bytes are refused by the HTTP parser.
    # (Only `sess_…` names a bridge session: another value is the client's own id, never a path.)
    for i, raw in enumerate(["a\tb", "a\x01b", "a\x7fb", "a\x1bb", "ab\x00c"]):
        cases.append(
            Hostile(
                f"header-session-{i}", "POST", "/v1/chat/completions", _chat(), (("X-Session-ID", f"sess_{raw}"),), None
            )
        )
    # Depth: arrays, objects, and both in every body reader and in a JSON string the bridge parses.
    deep = 100_000
    for route in ("/v1/chat/completions", "/v1/responses", "/v1/sessions"):
        cases += [
            Hostile(f"deep-array{route}", "POST", route, _deep("[", "]", deep), code="invalid_json"),
            Hostile(f"deep-object{route}", "POST", route, _deep('{"a":', "}", deep), code="invalid_json"),
            Hostile(f"deep-unclosed{route}", "POST", route, ("[" * deep).encode(), code="invalid_json"),
            Hostile(f"just-too-deep{route}", "POST", route, _deep("[", "]", MAX_DEPTH + 1), code="invalid_json"),
            Hostile(
                f"deep-inside-a-valid-body{route}",
                "POST",
                route,
                b'{"model": "gpt-4o", "metadata": ' + _deep('{"a":', "}", deep) + b"}",
                code="invalid_json",
            ),
        ]
    cases.append(
        Hostile(
            "deep-tool-arguments",
            "POST",
            "/v1/chat/completions",
            _json(
                {
                    "model": "gpt-4o",
                    "messages": [
                        *USER,
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "f", "arguments": "[" * deep + "]" * deep},
                                }
                            ],
                        },
                        {"role": "tool", "tool_call_id": "call_1", "content": "x"},
                    ],
                }
            ),
            param="messages[1].tool_calls[0].function.arguments",
        )
    )
    # Depth exactly at the limit, where the bridge's own code walks it: refused or served, never a 5xx.
    nested_schema: dict[str, Any] = {"type": "object"}
    for _ in range(MAX_DEPTH // 2 - 8):
        nested_schema = {"type": "object", "properties": {"a": nested_schema}}
    cases += [
        # Walked by the schema check, then refused for max_tokens (checked after the tools).
        Hostile(
            "deep-schema-at-limit",
            "POST",
            "/v1/chat/completions",
            _chat(tools=[{"type": "function", "function": {"name": "f", "parameters": nested_schema}}], max_tokens=0),
            param="max_tokens",
        ),
        Hostile(
            "deep-metadata-at-limit",
            "POST",
            "/v1/sessions",
            b'{"metadata": ' + _deep('{"a":', "}", MAX_DEPTH - 2) + b"}",
            param="metadata",
        ),
    ]
    # Huge arrays, each far under the body limit.
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x"} for i in range(50_001)]
    cases += [
        Hostile(
            "messages-50001",
            "POST",
            "/v1/chat/completions",
            _json({"model": "gpt-4o", "messages": many}),
            code="array_above_max_length",
            param="messages",
        ),
        Hostile(
            "responses-input-50001",
            "POST",
            "/v1/responses",
            _json({"model": "gpt-4o", "input": [{"role": m["role"], "content": m["content"]} for m in many]}),
            code="array_above_max_length",
            param="input",
        ),
        Hostile(
            "tools-100000",
            "POST",
            "/v1/chat/completions",
            _chat(tools=[{"type": "function", "function": {"name": f"f{i}"}} for i in range(100_000)]),
            code="array_above_max_length",
            param="tools",
        ),
        Hostile(
            "tool_calls-100000",
            "POST",
            "/v1/chat/completions",
            _json(
                {
                    "model": "gpt-4o",
                    "messages": [
                        *USER,
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                                for i in range(100_000)
                            ],
                        },
                        {"role": "tool", "tool_call_id": "c0", "content": "x"},
                    ],
                }
            ),
            code="array_above_max_length",
            param="messages[1].tool_calls",
        ),
        Hostile("stop-100000", "POST", "/v1/chat/completions", _chat(stop=["x"] * 100_000), param="stop"),
        Hostile(
            "metadata-100000",
            "POST",
            "/v1/chat/completions",
            _chat(metadata={f"k{i}": "v" for i in range(100_000)}),
            param="metadata",
        ),
        Hostile(
            "session-metadata-100000",
            "POST",
            "/v1/sessions",
            _json({"metadata": {f"k{i}": "v" for i in range(100_000)}}),
            param="metadata",
        ),
    ]
    # Anthropic's Messages API: the same holes, answered in Anthropic's error shape.
    for route in ("/v1/messages", "/v1/messages/count_tokens"):
        anthropic: dict[str, Any] = {"model": "claude-sonnet-4-5"}
        if route == "/v1/messages":
            anthropic["max_tokens"] = 16
        cases += [
            Hostile(f"deep-array{route}", "POST", route, _deep("[", "]", deep)),
            Hostile(
                f"deep-inside-a-valid-body{route}",
                "POST",
                route,
                b'{"model": "claude-sonnet-4-5", "metadata": ' + _deep('{"a":', "}", deep) + b"}",
            ),
            Hostile(f"messages-50001{route}", "POST", route, _json({**anthropic, "messages": many}), param="messages"),
            Hostile(
                f"model-newline{route}",
                "POST",
                route,
                _json({**anthropic, "model": "claude-x\n", "messages": USER}),
                status=404,
            ),
            Hostile(
                f"tool-name-newline{route}",
                "POST",
                route,
                _json(
                    {
                        **anthropic,
                        "messages": USER,
                        "tools": [{"name": "f\n", "input_schema": {"type": "object"}}],
                    }
                ),
                param="tools.0.name",
            ),
            Hostile(
                f"tool-use-id-newline{route}",
                "POST",
                route,
                _json(
                    {
                        **anthropic,
                        "messages": [
                            *USER,
                            {
                                "role": "assistant",
                                "content": [{"type": "tool_use", "id": "toolu_1\n", "name": "f", "input": {}}],
                            },
                            {
                                "role": "user",
                                "content": [{"type": "tool_result", "tool_use_id": "toolu_1\n", "content": "x"}],
                            },
                        ],
                    }
                ),
                param="messages.1.content.0.id",
            ),
        ]
    # Query parameters of the list routes.
    for route in ("/v1/sessions", "/v1/responses"):
        cases += [
            Hostile(f"limit-5000-digits{route}", "GET", f"{route}?limit={'9' * 5000}", param="limit"),
            Hostile(f"after-newline{route}", "GET", f"{route}?after=sess_x%0A", param="after"),
        ]
    # Values of the wrong type where a lookup would hash them (found by schemathesis as 500s).
    tool = [{"type": "function", "function": {"name": "f"}}]
    cases += [
        Hostile("effort-object", "POST", "/v1/chat/completions", _chat(reasoning_effort={}), param="reasoning_effort"),
        Hostile(
            "reasoning-array",
            "POST",
            "/v1/responses",
            _json({"model": "gpt-4o", "input": "hi", "reasoning": [None, None]}),
            param="reasoning",
        ),
        Hostile(
            "tool-choice-name-object",
            "POST",
            "/v1/chat/completions",
            _chat(tools=tool, tool_choice={"type": "function", "function": {"name": {}}}),
            param="tool_choice.function.name",
        ),
    ]
    return cases


CASES = _cases()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile_bridge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bridge]:
    fake = FakeUpstream()
    await fake.start()
    bridge = await start_bridge(fake, tmp_path_factory.mktemp("hostile"), POOL_SIZE="1")
    yield bridge
    await stop_bridge(bridge)
    await fake.stop()


async def raw_request(bridge: Bridge, case: Hostile) -> tuple[int, dict[str, str], bytes]:
    """Sends exactly these bytes (no client library cleans the header values up first)."""
    server = bridge.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = case.body or b""
    head = [f"{case.method} {case.path} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in case.headers]
    if case.body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    writer.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode("latin-1").strip()
    return int(status_line.split()[1]), headers, payload


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_input_is_refused_before_any_work(hostile_bridge: Bridge, case: Hostile) -> None:
    bridge = hostile_bridge
    before = len(bridge.fake.requests)
    status, headers, payload = await raw_request(bridge, case)
    assert status < 500, (status, payload[:300])
    if case.status is not None:
        assert status == case.status, payload[:300]
    else:
        assert 400 <= status < 500
    if payload.lstrip().startswith(b"{") and case.path.startswith("/v1/messages"):
        body = json.loads(payload)  # Anthropic's error shape there: no param, no code
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        if case.param is not None:
            assert case.param in body["error"]["message"], body
    elif payload.lstrip().startswith(b"{"):
        err = json.loads(payload)["error"]
        assert set(err) == {"message", "type", "param", "code"}
        if case.code is not None:
            assert err["code"] == case.code, err
        if case.param is not None:
            assert err["param"] == case.param, err
    else:
        assert case.status is None, "only the HTTP parser itself answers without an OpenAI error body"
    assert len(bridge.fake.requests) == before, "nothing reached the upstream"
    assert bridge.pool.stats()["busy"] == 0
    assert "x-injected" not in headers


async def test_nothing_was_stored_under_a_hostile_name(hostile_bridge: Bridge) -> None:
    history = Path(hostile_bridge.pool.launch.workdir).parent / "history"
    stored = [p.name for p in history.rglob("*")] if history.exists() else []
    assert all(name.isascii() and name.isprintable() and name.strip() == name for name in stored), stored


@pytest.mark.parametrize(("sent", "echoed"), [("ok-id.1:2", True), ("a\tb", False), ("a" * 129, False), ("é", False)])
async def test_request_ids_are_echoed_only_when_safe(hostile_bridge: Bridge, sent: str, echoed: bool) -> None:
    case = Hostile("request-id", "GET", "/v1/models", headers=(("X-Request-ID", sent),), status=200)
    status, headers, _ = await raw_request(hostile_bridge, case)
    assert status == 200
    assert (headers["x-request-id"] == sent) is echoed
    assert headers["x-request-id"].isascii() and headers["x-request-id"].isprintable()
