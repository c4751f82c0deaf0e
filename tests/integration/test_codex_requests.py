"""Codex CLI's Responses API requests, as captured from Codex 0.171 (`codex exec`), through the real
CLI and the fake upstream. The bodies below keep the shape Codex sends (its fields, item and tool
types); only the long instructions and most tools are trimmed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.codex_requests import ASK_THINK, PIXEL, codex_body, first_turn, post, second_turn, stream
from tests.conftest import Bridge, MakeBridge
from tests.responses_events import validate_events


async def test_codex_first_request_is_accepted(bridge: Bridge) -> None:
    resp, response = await stream(bridge, codex_body("codex-hello <<say:Hi Codex.>>"))
    assert response["output_text"] == "Hi Codex."
    unapplied = resp.headers["X-Bridge-Unapplied-Params"].split(",")
    # The cache-only web search (no web mode here anyway), the grammar and client_metadata.
    assert {"tools[3]", "tools[2].format", "client_metadata", "prompt_cache_key"} <= set(unapplied)
    (req,) = bridge.fake.find("codex-hello")
    offered = {t["name"] for t in req.body["tools"]}
    assert {"mcp__c__exec_command", "mcp__c__multi_agent_v1__close_agent", "mcp__c__apply_patch"} <= offered
    assert not [name for name in offered if "web" in name.lower()]
    assert "You are a coding agent running in the Codex CLI." in json.dumps(req.body)


async def test_a_compaction_request_with_no_tools_and_tool_choice_auto_is_answered(bridge: Bridge) -> None:
    """Codex compacts a long thread (with a custom provider) by an ordinary request whose `tools`
    is empty but whose `tool_choice` stays "auto"; the Responses API takes that shape."""
    ask = 'codex-before <<tool:mcp__c__exec_command:{"cmd":"ls"}>>'
    _, first = await stream(bridge, codex_body(ask))
    (call,) = [item for item in first["output"] if item["type"] == "function_call"]
    history = [
        {k: v for k, v in call.items() if k != "status"},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "codex-compact <<say:Summary.>>"}],
        },
    ]
    _, compacted = await stream(bridge, codex_body(ask, history, tools=[], tool_choice="auto"))
    assert compacted["status"] == "completed" and compacted["output_text"]
    (req,) = bridge.fake.find("codex-compact")
    assert not [t for t in req.body.get("tools", []) if t["name"].startswith("mcp__c__")], "no function offered"


async def test_namespace_tool_round_trip(bridge: Bridge) -> None:
    ask = 'codex-ns <<tool:mcp__c__multi_agent_v1__close_agent:{"target":"a1"}>>'
    _, first = await stream(bridge, codex_body(ask))
    (call,) = [item for item in first["output"] if item["type"] == "function_call"]
    assert (call["namespace"], call["name"], json.loads(call["arguments"])) == (
        "multi_agent_v1",
        "close_agent",
        {"target": "a1"},
    )
    back = [
        {k: v for k, v in call.items() if k != "status"},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "closed a1"},
    ]
    _, second = await stream(bridge, codex_body(ask, back))
    assert second["output_text"] == "after-tool: closed a1"
    replay = bridge.fake.messages_requests()[-1]
    uses = [b for m in replay.messages if m["role"] == "assistant" for b in m["content"] if b["type"] == "tool_use"]
    assert [(u["id"], u["name"]) for u in uses] == [(call["call_id"], "mcp__c__multi_agent_v1__close_agent")]


async def test_custom_tool_round_trip(bridge: Bridge) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    ask = f"codex-custom <<tool:mcp__c__apply_patch:{json.dumps({'input': patch})}>>"
    resp = await post(bridge, codex_body(ask))
    events = validate_events(resp.content)
    (call,) = [i for i in events[-1]["response"]["output"] if i["type"] == "custom_tool_call"]
    assert (call["name"], call["input"]) == ("apply_patch", patch)
    assert [e["input"] for e in events if e["type"] == "response.custom_tool_call_input.done"] == [patch]
    back = [call, {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "Done!"}]
    _, second = await stream(bridge, codex_body(ask, back))
    assert second["output_text"] == "after-tool: Done!"


async def test_function_call_output_as_content_parts_with_an_image(bridge: Bridge) -> None:
    ask = 'codex-image <<tool:mcp__c__exec_command:{"cmd":"screenshot"}>>'
    _, first = await stream(bridge, codex_body(ask))
    (call,) = [item for item in first["output"] if item["type"] == "function_call"]
    output = [
        {"type": "input_text", "text": "the screenshot:"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PIXEL}"},
    ]
    back = [call, {"type": "function_call_output", "call_id": call["call_id"], "output": output}]
    _, second = await stream(bridge, codex_body(ask, back))
    assert second["output_text"].startswith("after-tool: the screenshot:")
    replay = bridge.fake.messages_requests()[-1]
    (result,) = [
        b for m in replay.messages if m["role"] == "user" for b in m["content"] if b.get("type") == "tool_result"
    ]
    kinds = [b["type"] for b in result["content"]]
    assert kinds == ["text", "image"] and result["content"][1]["source"]["data"] == PIXEL
    files = [
        call,
        {
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": [{"type": "input_file", "file_id": "f"}],
        },
    ]
    refused = await post(bridge, codex_body(ask, files))
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "input[3].output[0].type"


@pytest.mark.parametrize(
    ("item", "why"),
    [
        (
            {
                "type": "local_shell_call",
                "call_id": "c",
                "status": "completed",
                "action": {"type": "exec", "command": ["ls"]},
            },
            "local_shell",
        ),
        ({"type": "compaction", "encrypted_content": "gAAAA"}, "encrypted summary"),
    ],
)
async def test_items_claude_cannot_continue_from_are_refused_by_name(
    bridge: Bridge, item: dict[str, Any], why: str
) -> None:
    resp = await post(bridge, codex_body("codex-refused", [item]))
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["param"] == "input[2].type" and error["code"] == "unsupported_input_item" and why in error["message"]
    assert not bridge.fake.messages_requests()


async def test_sealed_reasoning_puts_the_signed_thinking_back_on_another_replica(make_bridge: MakeBridge) -> None:
    """Two bridges sharing a store (not the process's thinking cache): the key kept in the store
    opens on the second, and the signed thinking reaches the upstream in front of the call."""
    first_bridge = await make_bridge(POOL_SIZE="1")
    output, call = await first_turn(first_bridge)
    other = await make_bridge(POOL_SIZE="1")
    _, second = await stream(other, second_turn(output, call))
    assert second["output_text"] == "after-tool: a.txt"
    replay = other.fake.messages_requests()[-1]
    (assistant,) = [m for m in replay.messages if m["role"] == "assistant"]
    assert assistant["content"][0]["type"] == "thinking"
    assert assistant["content"][0]["signature"] in other.fake.signatures
    assert assistant["content"][-1]["id"] == call["call_id"]


async def test_tampered_or_foreign_encrypted_content_is_refused(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1", API_KEYS="sk-one,sk-two")
    output, call = await first_turn(bridge, "sk-one")
    seen = len(bridge.fake.messages_requests())
    token = output[-1]["encrypted_content"]
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    tampered = [*output[:-1], {**output[-1], "encrypted_content": flipped}]
    for key, items in (("sk-one", tampered), ("sk-two", output)):
        resp = await post(bridge, second_turn(items, call), key)
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["param"] == "input[4].encrypted_content" and error["code"] == "invalid_encrypted_content"
    assert len(bridge.fake.messages_requests()) == seen, "nothing reached the upstream"


async def test_a_configured_reasoning_key_is_used(make_bridge: MakeBridge, tmp_path: Any) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    first_bridge = await make_bridge(POOL_SIZE="1", REASONING_KEY=key, HISTORY_DIR=str(tmp_path / "a"))
    output, call = await first_turn(first_bridge)
    other = await make_bridge(POOL_SIZE="1", REASONING_KEY=key, HISTORY_DIR=str(tmp_path / "b"))
    _, second = await stream(other, second_turn(output, call))
    assert second["output_text"] == "after-tool: a.txt"
    assert not (tmp_path / "a" / "secrets").exists(), "no key is generated when one is configured"


async def test_output_schema_streamed(bridge: Bridge) -> None:
    """`codex exec --output-schema` sends text.format json_schema (strict) on a streamed request."""
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    text = {"format": {"type": "json_schema", "name": "codex_output_schema", "strict": True, "schema": schema}}
    _, response = await stream(bridge, codex_body('codex-schema <<tool:StructuredOutput:{"answer":"42"}>>', text=text))
    assert json.loads(response["output_text"]) == {"answer": "42"}
    # A turn that ends without the JSON, before any output: a 502 naming text.format, not a 500.
    failed = await post(bridge, codex_body("codex-schema-none <<say:no json>>", text=text))
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["param"] == "text.format"


async def test_with_the_openai_sdk_streamed_namespace_call_and_sealed_reasoning(make_bridge: MakeBridge) -> None:
    """The same round trip through the openai SDK's streaming helper, across two replicas."""
    first_bridge = await make_bridge(POOL_SIZE="1")
    fields = codex_body(
        ASK_THINK.replace("exec_command", "multi_agent_v1__close_agent").replace('"cmd":"ls"', '"target":"a1"')
    )
    fields.pop("stream")
    extra = {"client_metadata": fields.pop("client_metadata")}
    async with first_bridge.client().responses.stream(**fields, extra_body=extra) as events:  # type: ignore[arg-type]
        first = await events.get_final_response()
    summary, call, sealed = first.output
    assert summary.type == "reasoning" and summary.summary
    assert call.type == "function_call" and (call.namespace, call.name) == ("multi_agent_v1", "close_agent")
    assert sealed.type == "reasoning" and sealed.encrypted_content
    other = await make_bridge(POOL_SIZE="1")
    fields["input"] = [
        *fields["input"],
        *(item.model_dump(exclude_none=True) for item in first.output),
        {"type": "function_call_output", "call_id": call.call_id, "output": "closed"},
    ]
    async with other.client().responses.stream(**fields, extra_body=extra) as events:  # type: ignore[arg-type]
        second = await events.get_final_response()
    assert second.output_text == "after-tool: closed"
    (assistant,) = [m for m in other.fake.messages_requests()[-1].messages if m["role"] == "assistant"]
    assert assistant["content"][0]["signature"] in other.fake.signatures
