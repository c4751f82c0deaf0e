"""Finish reasons and usage, from the CLI's own figures. Pure."""

from __future__ import annotations

from typing import Any

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
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cache_read, cache_write_tokens=cache_write),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=thinking),
    )


def sum_usage(usages: list[Usage]) -> Usage:
    """n choices are n upstream turns: their usage adds up."""
    prompt = sum(u.prompt_tokens for u in usages)
    completion = sum(u.completion_tokens for u in usages)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=sum(u.prompt_tokens_details.cached_tokens for u in usages),
            cache_write_tokens=sum(u.prompt_tokens_details.cache_write_tokens for u in usages),
        ),
        completion_tokens_details=CompletionTokensDetails(
            reasoning_tokens=sum(u.completion_tokens_details.reasoning_tokens for u in usages)
        ),
    )
