"""CLI events -> OpenAI chat completions and stream chunks. Pure and stateful per turn."""

from __future__ import annotations

import secrets
import time
from typing import Any

import attrs

from bridge.schemas import (
    AssistantMessageOut,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    PromptTokensDetails,
    Usage,
)
from supervisor.events import AssistantMessage, Event, MessageStart, Result, TextDelta

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "tool_deferred": "tool_calls",
    "refusal": "content_filter",
}


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_urlsafe(21).replace("-", "x").replace("_", "y")


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def usage_from_result(usage: dict[str, Any]) -> Usage:
    """Exactly the CLI's per-turn figures; cache reads and writes are prompt tokens too."""
    fresh = int(usage.get("input_tokens") or 0)
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    output = int(usage.get("output_tokens") or 0)
    thinking = int((usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0)
    prompt = fresh + cache_read + cache_write
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=output,
        total_tokens=prompt + output,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cache_read),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=thinking),
    )


@attrs.define
class TextAssembler:
    """Turns events into text pieces exactly once each.

    Text normally arrives as deltas; an assistant message whose text came with no deltas (the
    CLI's non-streaming fallback after a dropped stream) is emitted whole.
    """

    _current: str | None = None
    _streamed: set[str] = attrs.field(factory=set)

    def feed(self, event: Event) -> str | None:
        if isinstance(event, MessageStart):
            self._current = event.message_id
            return None
        if isinstance(event, TextDelta):
            if event.text:
                self._streamed.add(self._current or "")
                return event.text
            return None
        if isinstance(event, AssistantMessage) and not event.synthetic:
            if (event.message_id or "") in self._streamed or (event.message_id is None and self._streamed):
                return None
            return event.text or None
        return None


@attrs.define
class CompletionBuilder:
    """Collects a whole turn into one ChatCompletion."""

    model: str
    id: str = attrs.field(factory=completion_id)
    created: int = attrs.field(factory=lambda: int(time.time()))
    _text: list[str] = attrs.field(factory=list)
    _assembler: TextAssembler = attrs.field(factory=TextAssembler)
    result: Result | None = None

    def feed(self, event: Event) -> None:
        piece = self._assembler.feed(event)
        if piece:
            self._text.append(piece)
        if isinstance(event, Result):
            self.result = event

    def build(self) -> ChatCompletion:
        assert self.result is not None, "the turn has not finished"
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=(
                Choice(
                    index=0,
                    message=AssistantMessageOut(content="".join(self._text)),
                    finish_reason=finish_reason(self.result.stop_reason),
                ),
            ),
            usage=usage_from_result(self.result.usage),
        )


@attrs.define
class ChunkBuilder:
    """Turns events into stream chunks: role first, content deltas, finish, optional usage."""

    model: str
    include_usage: bool = False
    id: str = attrs.field(factory=completion_id)
    created: int = attrs.field(factory=lambda: int(time.time()))
    _assembler: TextAssembler = attrs.field(factory=TextAssembler)

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=(ChunkChoice(index=0, delta=delta, finish_reason=finish),),
        )

    def opening(self) -> ChatCompletionChunk:
        return self._chunk(Delta(role="assistant", content=""))

    def feed(self, event: Event) -> list[ChatCompletionChunk]:
        piece = self._assembler.feed(event)
        if piece:
            return [self._chunk(Delta(content=piece))]
        if isinstance(event, Result):
            chunks = [self._chunk(Delta(), finish_reason(event.stop_reason))]
            if self.include_usage:
                chunks.append(
                    ChatCompletionChunk(
                        id=self.id,
                        created=self.created,
                        model=self.model,
                        choices=(),
                        usage=usage_from_result(event.usage),
                    )
                )
            return chunks
        return []
