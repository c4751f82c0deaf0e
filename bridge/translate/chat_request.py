"""An OpenAI chat request -> the turn a slot runs. Pure.

The leading system and developer messages become the process's system prompt; the client's
functions and the structured-output schema complete its launch profile. The conversation is
split into replayed lines and the new user turn by `bridge.translate.conversation`.
"""

from __future__ import annotations

import hashlib
import json

from bridge.schemas import ChatCompletionRequest
from bridge.translate.conversation import as_blocks, split
from supervisor.launch import ClientTool, LaunchProfile
from supervisor.turn import Line, TurnSettings, TurnSpec


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
    conversation = split(request.messages)
    profile = LaunchProfile(
        system_prompt=conversation.system_prompt,
        tools=cli_tools,
        client_tools=tools,
        json_schema=request.response_format.schema if request.response_format else None,
    )
    message = conversation.message
    reminder = instruction(request, bool(tools))
    if reminder:
        message = [*as_blocks(message), {"type": "text", "text": f"<system-reminder>{reminder}</system-reminder>"}]
    return TurnSpec(
        model=cli_model,
        message=message,
        history=conversation.history,
        profile=profile,
        settings=TurnSettings(effort=request.reasoning_effort, max_output_tokens=request.max_tokens),
    )


def binding_key(session_id: str, lines: tuple[Line, ...] | list[Line]) -> str:
    """Names a session's conversation exactly: a process holding it may serve the next turn."""
    material = json.dumps([[line.role, line.content] for line in lines], sort_keys=True, ensure_ascii=False)
    return f"{session_id}|{hashlib.sha256(material.encode()).hexdigest()}"
