"""An OpenAI chat request -> the turn a slot runs. Pure.

System and developer messages become the process's system prompt; the client's functions and
the structured-output schema complete its launch profile. Every other earlier message is
replayed with its real role (tool calls as tool_use blocks, tool results as tool_result
blocks); the last user message, or the trailing tool results, is the new turn.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bridge.schemas import ChatCompletionRequest, ChatMessageIn, ImagePart, ImageUrlPart, Part
from supervisor.launch import MCP_PREFIX, ClientTool, LaunchProfile
from supervisor.turn import Content, Line, TurnSettings, TurnSpec

INSTRUCTION_ROLES = ("system", "developer")


def system_prompt(messages: tuple[ChatMessageIn, ...]) -> str:
    return "\n\n".join(m.text for m in messages if m.role in INSTRUCTION_ROLES and m.text)


def _block(part: Part) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
    if isinstance(part, ImageUrlPart):  # the CLI passes it on; Anthropic fetches it, never this host
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    return {"type": "text", "text": part.text}


def content_blocks(message: ChatMessageIn) -> Content:
    """A plain string stays a string; parts become Anthropic blocks, in order."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return [_block(part) for part in message.content]


def _assistant(message: ChatMessageIn) -> Content:
    if not message.tool_calls:
        return content_blocks(message)
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.text}] if message.text else []
    blocks += [
        {"type": "tool_use", "id": call.id, "name": MCP_PREFIX + call.name, "input": call.arguments}
        for call in message.tool_calls
    ]
    return blocks


def _tool_result(message: ChatMessageIn) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id,
        "content": content_blocks(message),
    }
    if message.is_error:
        block["is_error"] = True
    return block


def conversation_lines(messages: list[ChatMessageIn]) -> list[Line]:
    """Conversation lines; consecutive tool results form one user message, as Anthropic expects."""
    lines: list[Line] = []
    results: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            results.append(_tool_result(message))
            continue
        if results:
            lines.append(Line("user", results))
            results = []
        if message.role == "assistant":
            if message.text or message.tool_calls:
                lines.append(Line("assistant", _assistant(message)))
        else:
            lines.append(Line("user", content_blocks(message)))
    if results:
        lines.append(Line("user", results))
    return lines


def instruction(request: ChatCompletionRequest, tools_offered: bool) -> str | None:
    """tool_choice has no CLI control: it is asked for in words, next to the new message."""
    if request.tool_choice == "required":
        return "Answer by calling one or more of the available tools."
    if request.tool_choice == "function":
        return f"Answer by calling the `{request.tool_choice_name}` tool."
    if request.tool_choice == "none" and tools_offered:
        return "Do not call any tool in this answer; reply with text only."
    return None


def to_turn(request: ChatCompletionRequest, cli_model: str, cli_tools: tuple[str, ...] = ()) -> TurnSpec:
    tools = tuple(ClientTool(f.name, f.description, f.parameters) for f in request.tools)
    tool_history = any(m.tool_calls or m.role == "tool" for m in request.messages)
    if request.tool_choice == "none" and not tool_history:
        tools = ()  # the surest way not to call a tool is not to have one
    profile = LaunchProfile(
        system_prompt=system_prompt(request.messages),
        tools=cli_tools,
        client_tools=tools,
        json_schema=request.response_format.schema if request.response_format else None,
    )
    *history, last = conversation_lines([m for m in request.messages if m.role not in INSTRUCTION_ROLES])
    message = last.content
    reminder = instruction(request, bool(tools))
    if reminder:
        blocks = [{"type": "text", "text": message}] if isinstance(message, str) else list(message)
        message = [*blocks, {"type": "text", "text": f"<system-reminder>{reminder}</system-reminder>"}]
    return TurnSpec(
        model=cli_model,
        message=message,
        history=tuple(history),
        profile=profile,
        settings=TurnSettings(
            effort=request.reasoning_effort,
            max_output_tokens=request.max_tokens,
            max_thinking_tokens=request.max_thinking_tokens,
        ),
    )


def binding_key(session_id: str, lines: tuple[Line, ...] | list[Line]) -> str:
    """Names a session's conversation exactly: a process holding it may serve the next turn."""
    material = json.dumps([[line.role, line.content] for line in lines], sort_keys=True, ensure_ascii=False)
    return f"{session_id}|{hashlib.sha256(material.encode()).hexdigest()}"
