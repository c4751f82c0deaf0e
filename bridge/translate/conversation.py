"""OpenAI messages -> the system prompt, the lines to replay and the new user turn. Pure.

OpenAI accepts any order of roles; a CLI turn is a user message answered by the model, after
replayed lines that the upstream API wants to start with a user message. The rules, each
documented in the README's message table:

- system/developer messages before the first other message are the system prompt;
- later ones are delivered where they stand, as a `<system-reminder>` text block of the user
  turn next to them (the form in which Claude Code itself tells the model things mid-conversation);
- a request of instructions only makes them the user turn (there is nothing else to answer);
- consecutive user-side messages (user, tool results, reminders) form one user turn;
- a conversation that starts with an assistant message gets an empty user line before it (the
  CLI sends it upstream as its own placeholder "(no content)");
- a conversation that ends with an assistant message is continued: that message is replayed as
  the model's own, followed by a user turn that asks for its continuation (`CONTINUE`).
"""

from __future__ import annotations

from typing import Any

import attrs

from bridge.schemas import ChatMessageIn, ImagePart, ImageUrlPart, Part
from supervisor.launch import MCP_PREFIX
from supervisor.turn import Content, Line

INSTRUCTION_ROLES = ("system", "developer")
CONTINUE = (
    "Continue your last message from exactly where it ends. Reply with the continuation only: "
    "do not repeat any of it and add no preamble."
)


def reminder(text: str) -> dict[str, Any]:
    return {"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}


def system_prompt(messages: tuple[ChatMessageIn, ...] | list[ChatMessageIn]) -> str:
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


def assistant_line(message: ChatMessageIn) -> Line | None:
    """The line an assistant message is (None for an empty one, which is no turn)."""
    return Line("assistant", _assistant(message)) if message.text or message.tool_calls else None


def as_blocks(content: Content) -> list[dict[str, Any]]:
    """Content as a list of blocks, without empty text blocks."""
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    # The API refuses empty text blocks; alone, an empty message is left to the CLI's placeholder.
    return [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]


def _add_user(lines: list[Line], content: Content) -> None:
    if not lines or lines[-1].role != "user":
        lines.append(Line("user", content))
        return
    merged = as_blocks(lines[-1].content) + as_blocks(content)
    lines[-1] = Line("user", merged or "")


def conversation_lines(messages: list[ChatMessageIn] | tuple[ChatMessageIn, ...]) -> list[Line]:
    """The conversation as alternating lines (instruction messages here become reminders)."""
    lines: list[Line] = []
    for message in messages:
        if message.role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": content_blocks(message),
            }
            if message.is_error:
                result["is_error"] = True
            _add_user(lines, [result])
        elif message.role in INSTRUCTION_ROLES:
            if message.text:
                _add_user(lines, [reminder(message.text)])
        elif message.role == "assistant":
            if (line := assistant_line(message)) is not None:
                lines.append(line)
        else:
            _add_user(lines, content_blocks(message))
    if lines and lines[0].role == "assistant":
        lines.insert(0, Line("user", ""))
    return lines


@attrs.frozen
class Conversation:
    system_prompt: str
    history: tuple[Line, ...]
    message: Content
    # The lines are exactly the client's messages: nothing was added to deliver instructions
    # or to ask for a continuation (so a process holding this turn matches its stored session).
    exact: bool = True


def split(messages: tuple[ChatMessageIn, ...] | list[ChatMessageIn]) -> Conversation:
    first = next((i for i, m in enumerate(messages) if m.role not in INSTRUCTION_ROLES), len(messages))
    leading, rest = list(messages[:first]), list(messages[first:])
    lines = conversation_lines(rest)
    if not lines:  # instructions only (or nothing that says anything): they are what to answer
        blocks = [block for m in leading for block in as_blocks(content_blocks(m))]
        return Conversation("", (), blocks or "", exact=not leading)
    exact = not any(m.role in INSTRUCTION_ROLES and m.text for m in rest)
    if lines[-1].role == "assistant":
        lines.append(Line("user", [reminder(CONTINUE)]))
        exact = False
    return Conversation(system_prompt(leading), tuple(lines[:-1]), lines[-1].content, exact)
