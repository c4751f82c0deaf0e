"""Claude's thinking in a turn: readable reasoning for the client, signed blocks for the round trip. Pure."""

from __future__ import annotations

from typing import Any

import attrs

from supervisor.events import AssistantMessage, ThinkingDelta


@attrs.frozen
class SignedThinking:
    """The thinking blocks one upstream message opened with, and the model that signed them.

    The blocks are replayed exactly as received (the API checks their signatures), in front of
    the assistant message that carries the tool calls; the CLI keeps them only when the replayed
    message names the model it is about to call.
    """

    model: str
    blocks: tuple[dict[str, Any], ...]


@attrs.frozen
class ReasoningOut:
    """Readable thinking; `part` numbers the thinking blocks of the turn (a new one, a new summary)."""

    text: str
    part: int


@attrs.frozen
class KeptThinking:
    """The signed thinking client tool calls were made after, for the round trip; never shown."""

    thinking: SignedThinking
    call_ids: tuple[str, ...]


@attrs.define
class ThinkingTracker:
    """Follows the thinking of one choice's upstream messages (signatures are never text)."""

    show: bool = False
    _models: dict[str, str] = attrs.field(factory=dict)  # upstream message id -> model id
    _parts: dict[tuple[str, int], int] = attrs.field(factory=dict)  # (message, block) -> reasoning part
    _streamed: set[str] = attrs.field(factory=set)
    _signed: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)  # message -> its thinking blocks
    _calls: dict[str, str] = attrs.field(factory=dict)  # client call id -> the message it came in

    def started(self, message: str, model: str) -> None:
        self._models[message] = model

    def _part(self, message: str, block: int) -> int:
        return self._parts.setdefault((message, block), len(self._parts))

    def delta(self, message: str, event: ThinkingDelta) -> list[ReasoningOut]:
        if not self.show or not event.text:
            return []
        self._streamed.add(message)
        return [ReasoningOut(event.text, self._part(message, event.index))]

    def whole(self, event: AssistantMessage) -> list[ReasoningOut]:
        """Keeps the signed blocks; shows readable thinking that did not stream (non-streamed fallback)."""
        message = event.message_id or ""
        if event.model:
            self._models.setdefault(message, event.model)
        out = []
        for block in event.thinking:
            if block in self._signed.get(message, []):
                continue  # the same block again (a message repeated whole)
            self._signed.setdefault(message, []).append(block)
            text = block.get("thinking") if block.get("type") == "thinking" else None
            if self.show and isinstance(text, str) and text and message not in self._streamed:
                out.append(ReasoningOut(text, self._part(message, -len(self._signed[message]))))
        return out

    def called(self, call_id: str, message: str) -> None:
        self._calls[call_id] = message

    def kept(self) -> list[KeptThinking]:
        """The signed blocks of each message a client call came from, keyed by those calls."""
        by_message: dict[str, list[str]] = {}
        for call_id, message in self._calls.items():
            by_message.setdefault(message, []).append(call_id)
        return [
            KeptThinking(SignedThinking(self._models[message], tuple(self._signed[message])), tuple(calls))
            for message, calls in by_message.items()
            if self._signed.get(message) and self._models.get(message)
        ]
