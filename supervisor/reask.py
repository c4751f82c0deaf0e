"""A turn that must end in a call is asked again, in the same conversation, while it has not.

The CLI cannot force a tool call: its main request carries no `tool_choice` (forcing one is
incompatible with the adaptive thinking it always asks for), and its structured-output tool is
only asked for in words, once (`[structured-output-enforce] You MUST call the StructuredOutput
tool...`). So when a turn whose spec has a `ReAsk` ends without structured output and without a
deferred client tool call, its message is sent on the same process, conversation kept, a
bounded number of times. The intermediate results are yielded as `ReAsked`, not as `Result`:
the turn has not ended, but its usage counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs

from supervisor.events import Event, ReAsked, Result
from supervisor.slot import Slot
from supervisor.turn import TurnSpec


def answered(result: Result) -> bool:
    """The turn ended in a call: the CLI's structured output, or a client tool call it deferred."""
    return result.structured_output is not None or result.stop_reason == "tool_deferred"


async def run_turn(
    slot: Slot, spec: TurnSpec, keys: tuple[str, ...], deadline: float, timeout_total: float, *, keep: bool
) -> AsyncIterator[Event]:
    """`slot.run`, asking again as `spec.reask` says; a conversation is kept between the asks."""
    current, left, asked = spec, spec.reask.times if spec.reask is not None else 0, False
    while True:
        again = False
        async for event in slot.run(current, keys, deadline, timeout_total, keep=keep or left > 0, again=asked):
            if isinstance(event, Result) and left > 0 and not event.is_error and not answered(event):
                again = True
                yield ReAsked(event)
            else:
                yield event
        if not again:
            return
        assert spec.reask is not None
        left -= 1
        asked = True
        current = attrs.evolve(spec, history=(), message=spec.reask.message)
