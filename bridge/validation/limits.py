"""How much conversation one request may bring: the caps that keep a request from pinning a process.

Earlier messages are replayed into the CLI one line at a time before the new message is sent
(about 3 to 7 ms per line, and about 0.15 to 0.2 s per replayed MB on the development machine), so
a request's message count and replayed bytes bound how long it holds a process before the
upstream is even asked. Both caps are settings (MAX_MESSAGES, MAX_REPLAY_BYTES). Pure.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from bridge.errors import InvalidRequest
from bridge.schemas import ChatMessageIn, ImagePart, ImageUrlPart
from bridge.validation.common import max_items

INSTRUCTION_ROLES = ("system", "developer")


@attrs.frozen
class Limits:
    max_messages: int = 1000
    max_replay_bytes: int = 16 * 1024 * 1024


def check_count(raw: Any, limits: Limits, param: str = "messages") -> None:
    """Before any message is parsed: a 50,000-message body is refused at the cost of a len()."""
    if isinstance(raw, list):
        max_items(param, raw, limits.max_messages, "MAX_MESSAGES")


def content_bytes(message: ChatMessageIn) -> int:
    """What replaying a message sends the CLI: its text, images (base64) and tool calls."""
    size = 0
    if isinstance(message.content, str):
        size += len(message.content.encode("utf-8", "surrogatepass"))
    elif message.content:
        for part in message.content:
            if isinstance(part, ImagePart):
                size += len(part.data)
            elif isinstance(part, ImageUrlPart):
                size += len(part.url)
            else:
                size += len(part.text.encode("utf-8", "surrogatepass"))
    for call in message.tool_calls:
        size += len(call.name) + len(json.dumps(call.arguments, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return size


def replayed(messages: tuple[ChatMessageIn, ...]) -> list[ChatMessageIn]:
    """The messages a slot replays: all but the instructions and the new turn (the last user
    message, or the trailing tool results)."""
    convo = [m for m in messages if m.role not in INSTRUCTION_ROLES]
    end = len(convo) - 1
    while end > 0 and convo[end].role == "tool" and convo[end - 1].role == "tool":
        end -= 1
    return convo[: max(end, 0)]


def check_replay(messages: tuple[ChatMessageIn, ...], limits: Limits, param: str = "messages") -> None:
    total = sum(content_bytes(m) for m in replayed(messages))
    if total > limits.max_replay_bytes:
        raise InvalidRequest(
            f"Invalid '{param}': the earlier messages hold {total} bytes of content, and this server replays "
            f"at most {limits.max_replay_bytes} bytes per request (MAX_REPLAY_BYTES). Send a shorter "
            "conversation, or start a new one.",
            param=param,
            code="replay_too_large",
        )
