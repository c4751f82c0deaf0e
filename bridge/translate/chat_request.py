"""An OpenAI chat request -> the turn a slot runs. Pure.

The leading system and developer messages become the turn's system prompt and the client's
functions its tools; the structured-output schema is the launch profile. The conversation is
split into replayed lines and the new user turn by `bridge.translate.conversation`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from bridge.schemas import ChatCompletionRequest
from bridge.translate.conversation import as_blocks, reminder, split
from bridge.translate.forced import forced_call
from bridge.translate.thinking import SignedThinking
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


def with_thinking(lines: tuple[Line, ...], thinking: Mapping[str, SignedThinking]) -> tuple[Line, ...]:
    """Assistant lines whose tool calls were handed out after thinking start with that thinking again."""
    out = []
    for line in lines:
        calls = (
            [b.get("id") for b in line.content if b.get("type") == "tool_use"] if isinstance(line.content, list) else []
        )
        kept = next((thinking[c] for c in calls if isinstance(c, str) and c in thinking), None)
        if line.role == "assistant" and kept is not None:
            line = attrs.evolve(line, thinking=kept.blocks, model=kept.model)
        out.append(line)
    return tuple(out)


def to_turn(
    request: ChatCompletionRequest,
    cli_model: str,
    cli_tools: tuple[str, ...] = (),
    thinking: Mapping[str, SignedThinking] = {},
    show_reasoning: bool = False,
) -> TurnSpec:
    """`thinking`: the signed blocks kept for the tool calls in the history, by call id."""
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
    profile = LaunchProfile(tools=cli_tools, json_schema=json_schema)
    message = conversation.message
    asked = instruction(request, bool(tools))
    if asked:
        message = [*as_blocks(message), reminder(asked)]
    return TurnSpec(
        model=cli_model,
        message=message,
        history=with_thinking(conversation.history, thinking),
        profile=profile,
        settings=TurnSettings(
            effort=request.reasoning_effort,
            max_output_tokens=request.max_tokens,
            max_thinking_tokens=request.max_thinking_tokens,
            thinking_display="summarized" if show_reasoning else None,
        ),
        reask=forced.reask() if forced is not None else None,
        system_prompt=conversation.system_prompt,
        client_tools=tools,
    )
