"""An OpenAI chat request -> the turn a slot runs.

System and developer messages become the process's system prompt (its launch profile); every
other earlier message is replayed with its real role; the last user message is the new turn.
"""

from __future__ import annotations

from bridge.schemas import ChatCompletionRequest, ChatMessageIn
from supervisor.launch import LaunchProfile
from supervisor.turn import Content, Line, TurnSpec

INSTRUCTION_ROLES = ("system", "developer")


def system_prompt(messages: tuple[ChatMessageIn, ...]) -> str:
    return "\n\n".join(m.text for m in messages if m.role in INSTRUCTION_ROLES and m.text)


def content_blocks(message: ChatMessageIn) -> Content:
    """A plain string stays a string; parts become Anthropic text blocks, in order."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return [{"type": "text", "text": part.text} for part in message.content]


def to_turn(request: ChatCompletionRequest, cli_model: str, tools: tuple[str, ...] = ()) -> TurnSpec:
    conversation = [m for m in request.messages if m.role not in INSTRUCTION_ROLES]
    *earlier, last = conversation
    history = tuple(
        Line("user" if m.role == "user" else "assistant", content_blocks(m))
        for m in earlier
        if not (m.role == "assistant" and not m.text)
    )
    return TurnSpec(
        model=cli_model,
        message=content_blocks(last),
        history=history,
        profile=LaunchProfile(system_prompt=system_prompt(request.messages), tools=tools),
    )
