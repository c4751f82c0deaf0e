"""Counting a conversation's tokens with the CLI, without a model turn.

A slot that can serve the request (its launch profile, system prompt and tools, see
`supervisor.placement`) has the conversation replayed into it (no upstream call), answers
`get_context_usage`, and is rewound like after any turn. The
figure is the CLI's own: it asks Anthropic's token-counting API for each part of its context, so
it includes what the CLI adds to every turn (its environment notes), as the turn would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from supervisor.conversation import chain
from supervisor.errors import ControlError
from supervisor.placement import Want
from supervisor.pool import Pool
from supervisor.turn import TurnSpec


async def context_usage(pool: Pool, spec: TurnSpec, timeout: float) -> dict[str, Any]:
    """`get_context_usage` for the spec's conversation; raises ControlError when the CLI cannot count."""
    keys = chain(spec.namespace, spec.history)
    want = Want(spec.profile, bool(spec.system_prompt), frozenset(spec.client_tools), spec.namespace, keys)
    slot = await pool.acquire(want)
    deadline = asyncio.get_running_loop().time() + timeout
    healthy = False
    try:
        usage = await slot.context_usage(spec, keys, deadline, timeout)
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
