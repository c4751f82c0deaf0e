"""What a turn may cost before it runs: the reservation a running turn holds against its key's
budget until the CLI's exact figure replaces it. Pure.

Prices are the CLI's own (each model's `initialize` description says `$2/$10 per Mtok`, the
figures its `costUSD` is computed from). Input is the turn's text counted with the offline
stand-in tokenizer (`bridge.tokens`); output is the request's `max_tokens`, else the
CLI's default cap (every upstream request carries `max_tokens: 128000` when none is set,
measured on 2.1.331, docs/cli-findings.md), so that the reservation is a ceiling for the
output, not a guess. A structured-output turn may ask again (`reask.times`): each asking may
cost as much. The CLI's own system prompt and tools are not counted (it does not say how
large they are), nor what a web search or fetch adds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bridge.tokens import estimate_tokens
from supervisor.turn import Content, TurnSpec

CLI_DEFAULT_MAX_TOKENS = 128_000
IMAGE_TOKENS = 1_600  # Anthropic's figure for the largest image it takes without scaling down
PRICES = re.compile(r"\$(\d+(?:\.\d+)?)/\$(\d+(?:\.\d+)?)")  # "$2/$10 per Mtok"


def prices(models: Iterable[Mapping[str, object]], model: str) -> tuple[float, float] | None:
    """USD per input and per output token of `model` (an alias or a full name), from the CLI's
    model list: the dearest a description names (haiku's also names its price for prompts over
    100k); a model it does not list is priced as the dearest listed (a ceiling), None when it
    lists no prices at all."""
    listed: list[tuple[float, float]] = []
    for entry in models:
        found = PRICES.findall(str(entry.get("description", "")))
        if not found:
            continue
        price = max((float(i) / 1e6, float(o) / 1e6) for i, o in found)
        if model in (entry.get("value"), entry.get("resolvedModel")):
            return price
        listed.append(price)
    return max(listed, key=lambda p: p[1]) if listed else None


def content_tokens(content: Content) -> int:
    if isinstance(content, str):
        return estimate_tokens(content)
    total = 0
    for block in content:
        if block.get("type") == "text":
            total += estimate_tokens(str(block.get("text", "")))
        elif block.get("type") == "image":
            total += IMAGE_TOKENS
        else:  # tool calls and results, documents: their JSON without base64 data
            total += estimate_tokens(json.dumps(_without_data(block), ensure_ascii=False))
    return total


def _without_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_data(v) for k, v in value.items() if k != "data"}
    if isinstance(value, list):
        return [_without_data(v) for v in value]
    return value


def turn_tokens(spec: TurnSpec) -> tuple[int, int]:
    """Input and the most output tokens one asking of the turn may use."""
    tokens = estimate_tokens(spec.system_prompt) + content_tokens(spec.message)
    tokens += sum(content_tokens(line.content) for line in spec.history)
    tokens += sum(estimate_tokens(t.description) + estimate_tokens(t.input_schema) for t in spec.client_tools)
    return tokens, spec.settings.max_output_tokens or CLI_DEFAULT_MAX_TOKENS


def turn_cost(spec: TurnSpec, models: Iterable[Mapping[str, object]]) -> float:
    """A ceiling-minded estimate of the turn's cost in USD (0 when the CLI lists no prices)."""
    price = prices(models, spec.model)
    if price is None:
        return 0.0
    tokens_in, tokens_out = turn_tokens(spec)
    askings = 1 + (spec.reask.times if spec.reask is not None else 0)
    return askings * (tokens_in * price[0] + tokens_out * price[1])
