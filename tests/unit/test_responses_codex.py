"""Codex CLI's Responses API shapes, in the pure parts: tools, input items, sealing, hints, output."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridge.errors import InvalidRequest
from bridge.hints import bridge_session, conversation_hint
from bridge.responses.build import ResponseBuilder
from bridge.responses.items import input_items
from bridge.responses.request import parse_responses_request, response_id
from bridge.responses.tools import Named, parse_tools
from bridge.seal import Sealer
from bridge.translate.choice import Finished, ToolCallArgs, ToolCallBegin
from bridge.translate.thinking import KeptThinking, SignedThinking
from bridge.translate.usage import TurnUsage

FN = {"type": "function", "name": "close_agent", "parameters": {"type": "object", "properties": {}}}


def test_namespace_members_are_offered_under_joined_names() -> None:
    plan = parse_tools([{"type": "namespace", "name": "multi_agent_v1", "description": "d", "tools": [FN]}], web=False)
    assert [f.name for f in plan.functions] == ["multi_agent_v1__close_agent"]
    assert plan.names == {"multi_agent_v1__close_agent": Named("close_agent", "multi_agent_v1")}


def test_a_name_two_tools_would_share_is_refused() -> None:
    joined = {**FN, "name": "ns__close_agent"}
    with pytest.raises(InvalidRequest) as caught:
        parse_tools([joined, {"type": "namespace", "name": "ns", "description": "d", "tools": [FN]}], web=False)
    assert caught.value.param == "tools[1].tools[0].name" and caught.value.code == "duplicate_tool_name"
    with pytest.raises(InvalidRequest) as long:
        parse_tools([{"type": "namespace", "name": "n" * 50, "description": "d", "tools": [FN]}], web=False)
    assert long.value.param == "tools[0].tools[0].name"


def test_custom_tools_and_web_search() -> None:
    custom = {
        "type": "custom",
        "name": "apply_patch",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: X"},
    }
    plan = parse_tools([custom, {"type": "web_search", "external_web_access": False}], web=True)
    (function,) = plan.functions
    assert function.parameters["required"] == ["input"]
    assert "start: X" in function.description
    assert plan.names["apply_patch"].custom
    assert plan.web_search is None and plan.unapplied == ("tools[0].format", "tools[1].external_web_access")
    assert parse_tools([{"type": "web_search"}], web=True).web_search == {}
    with pytest.raises(InvalidRequest) as caught:
        parse_tools([{"type": "computer_use_preview"}], web=False)
    assert caught.value.param == "tools[0].type"


def test_input_items_codex_sends_back() -> None:
    parsed = input_items(
        [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": "go"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "cbr1.x"},
            {"type": "function_call", "namespace": "ns", "name": "f", "arguments": "{}", "call_id": "c1"},
            {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin", "call_id": "c2"},
            {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "ok"}]},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "Done"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
        ],
        response_id(None),
    )
    assert [m["role"] for m in parsed.messages] == ["developer", "user", "assistant", "tool", "tool"]
    calls = parsed.messages[2]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("ns__f", {}),
        ("apply_patch", {"input": "*** Begin"}),
    ]
    assert [(s.param, s.token) for s in parsed.sealed] == [("input[2].encrypted_content", "cbr1.x")]
    assert len(parsed.items) == 8 and all("id" in item for item in parsed.items)


@pytest.mark.parametrize("kind", ["local_shell_call", "local_shell_call_output", "compaction", "compaction_summary"])
def test_items_claude_cannot_continue_from(kind: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        input_items([{"type": "message", "role": "user", "content": "x"}, {"type": kind}], response_id(None))
    assert caught.value.param == "input[1].type" and kind in caught.value.message


def test_request_fields_codex_sends() -> None:
    body = {
        "model": "m",
        "input": "x",
        "store": False,
        "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
        "prompt_cache_key": "t",
        "client_metadata": {"thread_id": "t"},
    }
    req = parse_responses_request(body, [], response_id(None))
    assert req.encrypted_reasoning and not req.store
    assert req.chat.unapplied == ("prompt_cache_key", "include[1]", "client_metadata")


def test_sealed_reasoning_opens_only_for_its_owner_and_unaltered() -> None:
    sealer = Sealer(AESGCM(bytes(32)))
    kept = [
        KeptThinking(SignedThinking("claude-x", ({"type": "thinking", "thinking": "t", "signature": "s"},)), ("c1",))
    ]
    token = sealer.seal("key-a", kept)
    assert token.startswith("cbr1.") and "thinking" not in token
    assert sealer.open("key-a", token, "p") == kept
    for owner, altered in (("key-b", token), ("key-a", token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:])):
        with pytest.raises(InvalidRequest) as caught:
            sealer.open(owner, altered, "input[3].encrypted_content")
        assert caught.value.param == "input[3].encrypted_content" and caught.value.code == "invalid_encrypted_content"
    with pytest.raises(InvalidRequest):
        Sealer(AESGCM(bytes([1] * 32))).open("key-a", token, "p")
    with pytest.raises(InvalidRequest):
        sealer.open("key-a", "gAAAAABopenai", "p")


def test_hints() -> None:
    assert bridge_session("sess_abc") == "sess_abc" and bridge_session("ses_abc") is None
    assert conversation_hint({"X-Session-ID": "ses_abc"}, {}) == "ses_abc"
    assert conversation_hint({"X-Session-ID": "sess_abc", "thread-id": "t1"}, {}) == "t1"
    assert conversation_hint({}, {"prompt_cache_key": "k"}) == "k"
    assert conversation_hint({}, {}) is None


def test_output_calls_in_the_shape_codex_dispatches_on() -> None:
    names = {"ns__f": Named("f", "ns"), "apply_patch": Named("apply_patch", None, custom=True)}
    builder = ResponseBuilder(id=response_id(None), echo={}, names=names, seal=lambda: "cbr1.sealed")
    events = builder.feed(
        [
            ToolCallBegin(0, "c1", "ns__f"),
            ToolCallArgs(0, '{"a":1}'),
            ToolCallBegin(1, "c2", "apply_patch"),
            ToolCallArgs(1, json.dumps({"input": "*** Begin"})),
            Finished("tool_calls", TurnUsage(input_tokens=1, output_tokens=1)),
        ]
    )
    fc, ctc, sealed = builder.output
    assert (fc["namespace"], fc["name"], fc["arguments"]) == ("ns", "f", '{"a":1}')
    assert (ctc["type"], ctc["name"], ctc["input"]) == ("custom_tool_call", "apply_patch", "*** Begin")
    assert sealed == {
        "type": "reasoning",
        "id": sealed["id"],
        "summary": [],
        "encrypted_content": "cbr1.sealed",
        "status": "completed",
    }
    assert "response.custom_tool_call_input.done" in [e["type"] for e in events]
    message = builder.assistant_message()
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["ns__f", "apply_patch"]
