"""Typed events read from the CLI's stream-json stdout.

Only the fields the bridge acts on are lifted out; `raw` keeps the rest for logs and for
later features, so the typed layer never has to guess at fields it does not understand.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ControlResponse:
    request_id: str
    ok: bool
    response: dict[str, Any]
    error: str | None = None


@attrs.frozen
class ControlRequest:
    request_id: str
    subtype: str
    request: dict[str, Any]


@attrs.frozen
class MessageStart:
    message_id: str
    model: str
    usage: dict[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class MessageDelta:
    """The end of one upstream message: why it stopped and its final output token count."""

    stop_reason: str | None
    usage: dict[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class ToolUseStart:
    """A tool_use block begins (streamed): its id and name; the input follows as deltas."""

    index: int
    id: str
    name: str


@attrs.frozen
class ToolInputDelta:
    index: int
    partial_json: str


@attrs.frozen
class TextDelta:
    message_id: str | None
    text: str


@attrs.frozen
class ThinkingDelta:
    """Readable thinking, streamed; `index` is its content block within the upstream message."""

    index: int
    text: str


@attrs.frozen
class UserMessage:
    """A user line the CLI adds itself: the results of the built-in tools it ran (WebSearch...).

    `tool_use_result` is the CLI's structured form of the last tool result in it, when it has one.
    """

    content: list[dict[str, Any]]
    tool_use_result: Any = attrs.field(default=None, eq=False)

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_result"]


@attrs.frozen
class AssistantMessage:
    """A whole assistant message; its `usage` is a copy of message_start and is never used."""

    message_id: str | None
    model: str | None
    content: list[dict[str, Any]]

    @property
    def synthetic(self) -> bool:
        """The CLI's own stand-in message carrying an API error text: never model output."""
        return self.model == "<synthetic>"

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    @property
    def thinking(self) -> list[dict[str, Any]]:
        """Signed thinking blocks as the upstream sent them (readable or redacted)."""
        return [b for b in self.content if b.get("type") in ("thinking", "redacted_thinking")]


@attrs.frozen
class ApiRetry:
    attempt: int
    error_status: int | None
    error: str | None


@attrs.frozen
class Result:
    is_error: bool
    subtype: str
    stop_reason: str | None
    terminal_reason: str | None
    api_error_status: int | None
    text: str | None
    usage: dict[str, Any]
    num_turns: int
    raw: dict[str, Any] = attrs.field(repr=False, eq=False)

    @property
    def structured_output(self) -> Any:
        return self.raw.get("structured_output")


@attrs.frozen
class ReAsked:
    """The result of a turn that did not make the call it must make; it is asked again.

    Yielded in place of that Result (which is not the turn's end), so its usage still counts.
    """

    result: Result


@attrs.frozen
class Other:
    type: str
    subtype: str | None
    raw: dict[str, Any] = attrs.field(repr=False, eq=False)


@attrs.frozen
class ProcessExited:
    """Synthesised when stdout closes: the process is gone."""

    returncode: int | None
    stderr_tail: str


Event = (
    ControlResponse
    | ControlRequest
    | MessageStart
    | MessageDelta
    | ToolUseStart
    | ToolInputDelta
    | TextDelta
    | ThinkingDelta
    | UserMessage
    | AssistantMessage
    | ApiRetry
    | Result
    | ReAsked
    | Other
    | ProcessExited
)
