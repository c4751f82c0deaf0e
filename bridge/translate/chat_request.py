"""An OpenAI chat request -> the turn a slot runs. Pure.

The leading system and developer messages become the process's system prompt; the client's
functions and the structured-output schema complete its launch profile. The conversation is
split into replayed lines and the new user turn by `bridge.translate.conversation`.
"""

from __future__ import annotations

import hashlib
import json

from bridge.schemas import ChatCompletionRequest
from bridge.translate.conversation import as_blocks, reminder, split
from bridge.translate.forced import forced_call
from supervisor.launch import ClientTool, LaunchProfile
from supervisor.turn import Line, TurnSettings, TurnSpec


def instruction(request: ChatCompletionRequest, tools_offered: bool) -> str | None:
    """tool_choice is asked for in words, next to the new message (and enforced: see `forced`)."""
    if request.tool_choice == "required":
        return "Answer by calling one or more of the available tools."
    if request.tool_choice == "function":
        return f"Answer by calling the `{request.tool_choice_name}` tool."
    if request.tool_choice == "none" and tools_offered:
        return "Do not call any tool in this answer; reply with text only."
    return None


def to_turn(request: ChatCompletionRequest, cli_model: str, cli_tools: tuple[str, ...] = ()) -> TurnSpec:
    functions = request.tools
    tool_history = any(m.tool_calls or m.role == "tool" for m in request.messages)
    if request.tool_choice == "none" and not tool_history:
        functions = ()  # the surest way not to call a tool is not to have one
    json_schema = request.response_format.schema if request.response_format else None
    forced = forced_call(request)
    if forced is not None:  # see bridge.translate.forced
        functions, json_schema = forced.functions, forced.schema
    tools = tuple(ClientTool(f.name, f.description, f.parameters) for f in functions)
    conversation = split(request.messages)
    profile = LaunchProfile(
        system_prompt=conversation.system_prompt,
        tools=cli_tools,
        client_tools=tools,
        json_schema=json_schema,
    )
    message = conversation.message
    asked = instruction(request, bool(tools))
    if asked:
        message = [*as_blocks(message), reminder(asked)]
    return TurnSpec(
        model=cli_model,
        message=message,
        history=conversation.history,
        profile=profile,
        settings=TurnSettings(
            effort=request.reasoning_effort,
            max_output_tokens=request.max_tokens,
            max_thinking_tokens=request.max_thinking_tokens,
        ),
        reask=forced.reask() if forced is not None else None,
    )


def binding_key(session_id: str, lines: tuple[Line, ...] | list[Line]) -> str:
    """Names a session's conversation exactly: a process holding it may serve the next turn."""
    material = json.dumps([[line.role, line.content] for line in lines], sort_keys=True, ensure_ascii=False)
    return f"{session_id}|{hashlib.sha256(material.encode()).hexdigest()}"
