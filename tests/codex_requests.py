"""Codex CLI's Responses API requests, as captured from Codex 0.171 (`codex exec`), and the calls
the Codex tests make: the bodies keep the shape Codex sends (its fields, item and tool types);
only the long instructions and most tools are trimmed."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.conftest import Bridge
from tests.openapi import assert_valid
from tests.responses_events import validate_events

THREAD = "01a247fa-0840-76d1-ac67-61a206ee80fd"


EXEC = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"cmd": {"type": "string"}},
        "required": ["cmd"],
        "additionalProperties": False,
    },
}


AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [
        {
            "type": "function",
            "name": "close_agent",
            "description": "Close an agent.",
            "strict": False,
            "parameters": {
                "type": "object",
                "properties": {"target": {"type": "string"}},
                "required": ["target"],
                "additionalProperties": False,
            },
        }
    ],
}


PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'},
}


WEB = {"type": "web_search", "external_web_access": False}
# A 1x1 PNG.


# A 1x1 PNG.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf000000030101001827a5370000000049454e44ae426082"
    )
).decode()


def codex_body(user: str, extra_input: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5",
        "stream": True,
        "input": [
            {
                "type": "message",
                "id": "msg_e63fca92-1069-534e-86a1-d87ed2d911fe",
                "role": "developer",
                "content": [{"type": "input_text", "text": "You are a coding agent running in the Codex CLI."}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]},
            *(extra_input or []),
        ],
        "tools": [EXEC, AGENTS, PATCH, WEB],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": THREAD,
        "client_metadata": {"session_id": THREAD, "thread_id": THREAD, "turn_id": "01a247fa-0854"},
        **fields,
    }


async def post(bridge: Bridge, body: dict[str, Any], key: str = "sk-test") -> httpx.Response:
    async with bridge.http() as http:
        return await http.post(
            "/v1/responses",
            json=body,
            headers={"Authorization": f"Bearer {key}", "session-id": THREAD, "thread-id": THREAD},
        )


async def stream(bridge: Bridge, body: dict[str, Any], key: str = "sk-test") -> tuple[httpx.Response, dict[str, Any]]:
    """The streamed response and its final Response object (every event checked against OpenAI's schema)."""
    resp = await post(bridge, body, key)
    assert resp.status_code == 200, resp.text
    events = validate_events(resp.content)
    done = events[-1]
    assert done["type"] == "response.completed", done
    assert_valid("Response", done["response"])
    return resp, done["response"]


ASK_THINK = 'codex-seal <<think:I should run it.>> <<tool:mcp__c__exec_command:{"cmd":"ls"}>>'


async def first_turn(bridge: Bridge, key: str = "sk-test") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the output items Codex keeps, the function call)."""
    _, first = await stream(bridge, codex_body(ASK_THINK), key)
    kinds = [item["type"] for item in first["output"]]
    assert kinds == ["reasoning", "function_call", "reasoning"], kinds
    (call,) = [item for item in first["output"] if item["type"] == "function_call"]
    sealed = first["output"][-1]
    assert sealed["encrypted_content"].startswith("cbr1.") and sealed["summary"] == []
    assert "I should run it" not in sealed["encrypted_content"]
    return first["output"], call


def second_turn(output: list[dict[str, Any]], call: dict[str, Any]) -> dict[str, Any]:
    back = [*output, {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"}]
    return codex_body(ASK_THINK, back)
