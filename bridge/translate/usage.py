"""Finish reasons and usage, from the CLI's own figures. Pure."""

from __future__ import annotations

from typing import Any

import attrs

from bridge.schemas import CompletionTokensDetails, PromptTokensDetails, Usage

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


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


@attrs.frozen
class TurnUsage:
    """A turn's tokens as the CLI reports them (Anthropic's terms: `input_tokens` leaves out the
    cache reads and writes), built once from its result; each API renders it in its own terms
    (`openai_usage`, bridge.messages.build.anthropic_usage, bridge.responses.build.response_usage)."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Cache reads and writes are prompt tokens too."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def completion_tokens(self) -> int:
        return self.output_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


def usage_from_result(usage: dict[str, Any]) -> TurnUsage:
    """Exactly the CLI's per-turn figures."""
    return TurnUsage(
        input_tokens=int(usage.get("input_tokens") or 0),
        cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        thinking_tokens=int((usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0),
    )


def sum_usage(usages: list[TurnUsage]) -> TurnUsage:
    """n choices are n upstream turns (and a turn asked again is two): their usage adds up."""
    return TurnUsage(
        input_tokens=sum(u.input_tokens for u in usages),
        cache_read_tokens=sum(u.cache_read_tokens for u in usages),
        cache_write_tokens=sum(u.cache_write_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        thinking_tokens=sum(u.thinking_tokens for u in usages),
    )


def openai_usage(usage: TurnUsage) -> Usage:
    """The chat completions `usage` object."""
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens
        ),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.thinking_tokens),
    )
