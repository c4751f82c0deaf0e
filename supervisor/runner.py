"""One client turn end to end: lease a slot, run, retry what is worth retrying, clean up.

Retries happen only while nothing has been produced for the client; cleanup after a
cancelled or failed turn runs as a background task, so it completes even when the request
handler is being torn down.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Callable

import attrs
import structlog

from supervisor.conversation import chain
from supervisor.errors import ControlError, SlotDied, TurnTimeout, UpstreamError
from supervisor.events import AssistantMessage, Event, Result, TextDelta, ThinkingDelta, ToolInputDelta, ToolUseStart
from supervisor.placement import Want
from supervisor.pool import Pool
from supervisor.reask import run_turn
from supervisor.slot import Slot
from supervisor.turn import Line, TurnSpec

log = structlog.get_logger(__name__)


@attrs.define
class Lease:
    """What a turn that may hold its conversation leaves for its caller (`TurnRunner.finish`).

    `resumed` is how many of the history's lines the process already held; the rest was
    replayed.
    """

    slot: Slot | None = None
    resumed: int = 0
    replayed: int = 0


@attrs.frozen
class RetryPolicy:
    max_retries: int = 2
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: attempt 0 waits up to `base` seconds."""
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


def error_from_result(result: Result) -> UpstreamError:
    errors = result.raw.get("errors")
    message = result.text or (", ".join(map(str, errors)) if isinstance(errors, list) and errors else "")
    return UpstreamError(
        message or f"upstream error ({result.terminal_reason})",
        result.api_error_status,
        result.terminal_reason,
    )


def _is_content(event: Event) -> bool:
    if isinstance(event, (TextDelta, ThinkingDelta)):
        return bool(event.text)
    if isinstance(event, (ToolUseStart, ToolInputDelta)):
        return True
    if isinstance(event, AssistantMessage) and not event.synthetic:
        return any(b.get("type") in ("text", "tool_use") for b in event.content)
    return False


class TurnRunner:
    def __init__(
        self,
        pool: Pool,
        request_timeout: float,
        retry: RetryPolicy,
        rng: random.Random | None = None,
    ):
        self.pool = pool
        self.request_timeout = request_timeout
        self.retry = retry
        self._rng = rng or random.Random()
        self.retries = 0
        self.failures: dict[str, int] = {}
        self.on_queue_wait: Callable[[float], None] | None = None

    async def stream(
        self, spec: TurnSpec, lease: Lease | None = None, on_result: Callable[[Result], None] | None = None
    ) -> AsyncGenerator[Event, None]:
        """The turn's events. With `spec.hold` and a `lease`, a finished turn leaves its slot in
        the lease for the caller to `finish`. `on_result` hears every Result the CLI gives for
        this turn: each attempt's, and the one that confirms an interrupt after the caller
        stopped reading (it carries what the cut-short turn cost), possibly after this
        generator has closed."""
        loop = asyncio.get_running_loop()
        attempt = 0
        keys = chain(spec.namespace, spec.history)
        want = Want(
            profile=spec.profile,
            prompted=bool(spec.system_prompt),
            tools=frozenset(spec.client_tools),
            namespace=spec.namespace,
            keys=keys,
        )
        while True:
            waited = loop.time()
            asked = time.monotonic()
            slot = await self.pool.acquire(want)
            waited = loop.time() - waited
            # The turn waited for a process that was started while it waited (fleet bench figure).
            structlog.contextvars.bind_contextvars(new_process=slot.ready_at >= asked)
            if self.on_queue_wait is not None:
                self.on_queue_wait(waited)
            deadline = loop.time() + self.request_timeout
            structlog.contextvars.bind_contextvars(slot_id=slot.slot_id, queue_wait_ms=round(waited * 1000, 1))
            began = loop.time()
            outcome = "aborted"
            committed = False
            failure: UpstreamError | SlotDied | None = None
            held = spec.hold and lease is not None
            run_spec = spec if held else attrs.evolve(spec, hold=False)
            resumed = slot.resume
            structlog.contextvars.bind_contextvars(
                history_lines=len(spec.history), resumed_lines=resumed, replayed_lines=len(spec.history) - resumed
            )
            if lease is not None:
                lease.resumed, lease.replayed = resumed, len(spec.history) - resumed
            try:
                async for event in run_turn(slot, run_spec, keys, deadline, self.request_timeout, keep=held):
                    if isinstance(event, Result):
                        if on_result is not None:
                            on_result(event)
                        outcome = "finished"
                        if held and not event.is_error:
                            assert lease is not None
                            outcome = "held"
                            lease.slot = slot
                        structlog.contextvars.bind_contextvars(upstream_ms=round((loop.time() - began) * 1000, 1))
                        if event.is_error:
                            failure = error_from_result(event)
                            break
                    committed = committed or _is_content(event)
                    yield event
                    if isinstance(event, Result):
                        return
            except TurnTimeout:
                outcome = "broken"
                self._failed("timeout")
                raise
            except ControlError:
                outcome = "finished"  # refused before anything was sent: the process is fine
                self._failed("control_error")
                raise
            except SlotDied as exc:
                outcome = "broken"
                failure = exc
            finally:
                self._settle(slot, outcome, on_result)
            assert failure is not None
            self._failed("process_died" if isinstance(failure, SlotDied) else f"http_{failure.status or 'none'}")
            retryable = isinstance(failure, SlotDied) or failure.transient
            if not retryable or committed or attempt >= self.retry.max_retries:
                raise failure
            wait = self.retry.delay(attempt, self._rng)
            log.warning(
                "turn_retry",
                attempt=attempt + 1,
                error=str(failure)[:200],
                status=getattr(failure, "status", None),
                wait_s=round(wait, 3),
            )
            self.retries += 1
            attempt += 1
            await asyncio.sleep(wait)

    def _failed(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def finish(self, lease: Lease, answer: Line | None) -> None:
        """Ends a turn that may hold its conversation: `answer` is the reply as its owner will
        send it back (the process then keeps the conversation), None rewinds it."""
        slot, lease.slot = lease.slot, None
        if slot is None:
            return
        if answer is not None and slot.alive:
            slot.commit(answer)
            self.pool.hold(slot)
        else:
            self.pool.release(slot)

    def _settle(self, slot: Slot, outcome: str, on_result: Callable[[Result], None] | None = None) -> None:
        if outcome == "held":
            return  # the caller finishes it (TurnRunner.finish)
        if outcome == "finished":
            self.pool.release(slot)
        elif outcome == "broken":
            self.pool.discard(slot)
        else:
            self.pool.background(self._abort(slot, on_result), name=f"abort-{slot.slot_id}")

    async def _abort(self, slot: Slot, on_result: Callable[[Result], None] | None = None) -> None:
        """The client went away mid-turn: stop the upstream within a second, or kill."""
        result = await slot.interrupt(timeout=1.0)
        if result is not None:
            if on_result is not None:
                on_result(result)
            log.info("turn_interrupted", slot_id=slot.slot_id)
            self.pool.release(slot)
        else:
            log.warning("turn_interrupt_failed_killing", slot_id=slot.slot_id)
            self.pool.discard(slot)
