"""The bridge's side of client tools: an in-process MCP server and the PreToolUse gate. Pure.

The CLI asks the bridge (over the control protocol) which tools server `c` has and whether a
tool call may run. Client functions are listed and every call to one is *deferred*: the turn
ends with the tool_use, which goes back to the client as `tool_calls`. Everything else is denied.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from supervisor.fetch_guard import FETCH_TOOL, fetch_denial, fetch_url
from supervisor.launch import MCP_PREFIX, ClientTool

# Every tool call, whatever its name, passes through this hook before permission rules apply.
GATE_HOOKS = {"PreToolUse": [{"matcher": ".*", "hookCallbackIds": ["gate"]}]}
DENY_REASON = "Tools are disabled by the bridge: nothing runs on the host."
STRUCTURED_OUTPUT = "StructuredOutput"


@attrs.frozen
class Offer:
    """What the model may call in the current turn: the launch's CLI tools and output schema,
    and the client's functions the bridge's MCP server lists right now."""

    cli_tools: tuple[str, ...] = ()
    client_tools: tuple[ClientTool, ...] = ()
    json_schema: str | None = None


def is_client_tool(offer: Offer, tool_name: str) -> bool:
    if not tool_name.startswith(MCP_PREFIX):
        return False
    name = tool_name[len(MCP_PREFIX) :]
    return any(t.name == name for t in offer.client_tools)


def _deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }


def hook_decision(
    offer: Offer, request: dict[str, Any], fetch_addresses: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """`fetch_addresses`: what a WebFetch's host resolved to (looked up by the caller)."""
    tool_name = str((request.get("input") or {}).get("tool_name") or "")
    if is_client_tool(offer, tool_name):
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "defer"}}
    if tool_name == FETCH_TOOL and tool_name in offer.cli_tools:
        denial = fetch_denial(fetch_url(request) or "", fetch_addresses or ())
        if denial is not None:
            return _deny(denial)
    if tool_name in offer.cli_tools or (tool_name == STRUCTURED_OUTPUT and offer.json_schema is not None):
        # A built-in tool the operator allowed by name (e.g. WebSearch in web mode), or the CLI's
        # own structured-output tool, which only records its input.
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    return _deny(DENY_REASON)


def mcp_reply(offer: Offer, request: dict[str, Any]) -> dict[str, Any]:
    message = request.get("message") or {}
    method = message.get("method")
    result: dict[str, Any]
    if method == "initialize":
        result = {
            "protocolVersion": (message.get("params") or {}).get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "claude-openai-bridge", "version": "1"},
        }
    elif method == "tools/list":
        result = {
            "tools": [
                {"name": t.name, "description": t.description, "inputSchema": json.loads(t.input_schema)}
                for t in offer.client_tools
            ]
        }
    elif method == "tools/call":  # never sent while calls are deferred; refused all the same
        result = {"content": [{"type": "text", "text": DENY_REASON}], "isError": True}
    else:
        result = {}
    reply: dict[str, Any] = {"jsonrpc": "2.0", "result": result}
    if "id" in message:
        reply["id"] = message["id"]
    return {"mcp_response": reply}
