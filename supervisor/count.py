"""Counting a conversation's tokens with the CLI, without a model turn.

A slot of the request's launch profile (system prompt, tools) has the conversation replayed into
it (no upstream call), answers `get_context_usage`, and is rewound like after any turn. The
figure is the CLI's own: it asks Anthropic's token-counting API for each part of its context, so
it includes what the CLI adds to every turn (its environment notes), as the turn would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from supervisor.errors import ControlError
from supervisor.pool import Pool
from supervisor.turn import TurnSpec


async def context_usage(pool: Pool, spec: TurnSpec, timeout: float) -> dict[str, Any]:
    """`get_context_usage` for the spec's conversation; raises ControlError when the CLI cannot count."""
    slot = await pool.acquire(spec.profile)
    deadline = asyncio.get_running_loop().time() + timeout
    healthy = False
    try:
        usage = await slot.context_usage(spec, deadline, timeout)
        healthy = True
        return usage
    except ControlError:
        healthy = True  # refused (e.g. the counting API failed): the process itself is fine
        raise
    finally:
        if healthy:
            pool.release(slot)
        else:
            pool.discard(slot)


def total_tokens(usage: dict[str, Any]) -> int | None:
    """The context's total as the CLI reports it; None when the answer has no usable figure."""
    total = usage.get("totalTokens")
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None
