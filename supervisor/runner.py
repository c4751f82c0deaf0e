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

from supervisor.accounts import Upstream, Upstreams
from supervisor.admission import Admission, Release, TenantCaps
from supervisor.conversation import chain
from supervisor.errors import ControlError, PlanLimited, SlotDied, TurnTimeout, UpstreamError
from supervisor.events import (
    AssistantMessage,
    Event,
    Other,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStart,
)
from supervisor.limits import Limited, parse_event
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
    pool: Pool | None = None  # the pool (upstream account) the slot belongs to


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
        upstreams: Upstreams | None = None,
        caps: TenantCaps | None = None,
    ):
        self.pool = pool
        self.caps = caps
        self.upstreams = upstreams or Upstreams.single(pool)
        # Told which upstream account each Result came from (spend per account).
        self.on_served: Callable[[str, Result], None] | None = None
        self.request_timeout = request_timeout
        self.retry = retry
        self._rng = rng or random.Random()
        self.retries = 0
        self.failures: dict[str, int] = {}
        self.on_queue_wait: Callable[[float], None] | None = None

    async def stream(
        self,
        spec: TurnSpec,
        lease: Lease | None = None,
        on_result: Callable[[Result], None] | None = None,
        admission: Admission | None = None,
    ) -> AsyncGenerator[Event, None]:
        """The turn's events. With `spec.hold` and a `lease`, a finished turn leaves its slot in
        the lease for the caller to `finish`. `on_result` hears every Result the CLI gives for
        this turn: each attempt's, and the one that confirms an interrupt after the caller
        stopped reading (it carries what the cut-short turn cost), possibly after this
        generator has closed. `admission` names the turn's tenant (its turns share the runner's
        `caps`) and is asked each time an attempt gets its process (see `supervisor.admission`)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        budget_end = loop.time() + self.request_timeout  # backoff waits stay within REQUEST_TIMEOUT
        moved_from: set[str] = set()  # accounts this turn left (limited, or failing after retries)
        keys = chain(spec.namespace, spec.history)
        want = Want(
            profile=spec.profile,
            prompted=bool(spec.system_prompt),
            tools=frozenset(spec.client_tools),
            namespace=spec.namespace,
            keys=keys,
            holds=spec.hold,
        )
        last_failure: UpstreamError | SlotDied | None = None
        while True:
            upstream = self.upstreams.next(moved_from)
            if upstream is None:
                # Every account is limited, or left after a plan limit, or cannot start a process.
                limit = self.upstreams.soonest_limit()
                if limit is not None:
                    raise PlanLimited(limit.describe(), limit.window, limit.until, self.upstreams.retry_after(limit))
                if last_failure is not None:
                    raise last_failure
                upstream = self.upstreams.primary  # cannot start a process: its pool says why
            pool = upstream.pool
            waited = loop.time()
            asked = time.monotonic()
            slot, admitted = await self._lease(pool, want, admission or Admission())
            waited = loop.time() - waited
            # The turn waited for a process that was started while it waited (fleet bench figure).
            structlog.contextvars.bind_contextvars(new_process=slot.ready_at >= asked)
            if self.on_queue_wait is not None:
                self.on_queue_wait(waited)
            deadline = loop.time() + self.request_timeout
            structlog.contextvars.bind_contextvars(slot_id=slot.slot_id, queue_wait_ms=round(waited * 1000, 1))
            if len(self.upstreams.all) > 1:
                structlog.contextvars.bind_contextvars(upstream_account=upstream.name)
            began = loop.time()
            outcome = "aborted"
            committed = False
            failure: UpstreamError | SlotDied | None = None
            limited: Limited | None = None
            held = spec.hold and lease is not None
            run_spec = spec if held else attrs.evolve(spec, hold=False)
            resumed = slot.resume
            structlog.contextvars.bind_contextvars(
                history_lines=len(spec.history), resumed_lines=resumed, replayed_lines=len(spec.history) - resumed
            )
            if lease is not None:
                lease.resumed, lease.replayed = resumed, len(spec.history) - resumed
            served = self._served(upstream, on_result)
            try:
                async for event in run_turn(slot, run_spec, keys, deadline, self.request_timeout, keep=held):
                    if isinstance(event, Other) and event.type == "rate_limit_event":
                        info = parse_event(event.raw)
                        if info is not None:
                            limited = upstream.limits.observe(info) or limited
                        continue
                    if isinstance(event, Result):
                        served(event)
                        outcome = "finished"
                        if held and not event.is_error:
                            assert lease is not None
                            outcome = "held"
                            lease.slot, lease.pool = slot, pool
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
                self._settle(pool, slot, outcome, served, admitted)
            assert failure is not None
            last_failure = failure
            self._failed("process_died" if isinstance(failure, SlotDied) else f"http_{failure.status or 'none'}")
            wait = self._after_failure(
                upstream, failure, limited, committed, attempt, moved_from, budget_end - loop.time()
            )
            if wait is None:
                moved_from.add(upstream.name)
                attempt = 0
                continue
            self.retries += 1
            attempt += 1
            await asyncio.sleep(wait)

    def _after_failure(
        self,
        upstream: Upstream,
        failure: UpstreamError | SlotDied,
        limited: Limited | None,
        committed: bool,
        attempt: int,
        moved_from: set[str],
        budget_left: float,
    ) -> float | None:
        """What a failed attempt leads to: the wait before another attempt on the same account,
        or None to move the turn to the next account; what nothing can help is raised.

        A plan window that ran out is never retried on its account (it is limited until the
        reset). Other transient failures (529, a 429 naming no window, 5xx, a dead process) are
        retried with full-jitter backoff, at most MAX_RETRIES times and within REQUEST_TIMEOUT,
        then moved on while another account can take the turn. Nothing is retried once the
        client has been sent output."""
        if limited is not None and not committed:
            self._failed("plan_limited")
            log.warning("upstream_limited", account=upstream.name, window=limited.window, until=limited.until)
            return None
        if committed or not (isinstance(failure, SlotDied) or failure.transient):
            raise failure
        wait = self.retry.delay(attempt, self._rng)
        if attempt < self.retry.max_retries and wait < budget_left:
            log.warning(
                "turn_retry",
                attempt=attempt + 1,
                error=str(failure)[:200],
                status=getattr(failure, "status", None),
                wait_s=round(wait, 3),
            )
            return wait
        if self.upstreams.next(moved_from | {upstream.name}) is None:
            raise failure
        log.warning("upstream_failover", account=upstream.name, error=str(failure)[:200])
        self.upstreams.cool_down(upstream)
        return None

    def _served(self, upstream: Upstream, on_result: Callable[[Result], None] | None) -> Callable[[Result], None]:
        """What hears a Result of this account's turn: the caller, and the per-account spend."""

        def served(result: Result) -> None:
            if on_result is not None:
                on_result(result)
            if self.on_served is not None:
                self.on_served(upstream.name, result)

        return served

    async def _lease(self, pool: Pool, want: Want, admission: Admission) -> tuple[Slot, Release]:
        """One attempt's process: a place among its tenant's running turns, then a slot, then
        the caller's admission. Returns what gives the place (and the admission) back once
        the attempt is settled. A turn refused or told "not yet" gives its slot back as it
        got it (nothing was sent: a held conversation stays, a blank slot is released)."""
        caps = self.caps if admission.tenant else None
        leave = await caps.enter(admission.tenant) if caps is not None else _nothing
        try:
            while True:
                if admission.ready is not None:
                    await admission.ready()
                slot = await pool.acquire(want)
                if admission.admit is None:
                    return slot, leave
                try:
                    granted = await admission.admit()
                except BaseException:
                    pool.hold(slot)
                    raise
                if granted is not None:
                    settled = granted
                    break
                pool.hold(slot)
        except BaseException:
            leave()
            raise

        def release() -> None:
            settled()
            leave()

        return slot, release

    def _failed(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def finish(self, lease: Lease, answer: Line | None) -> bool:
        """Ends a turn that may hold its conversation: `answer` is the reply as its owner will
        send it back (the process then keeps the conversation), None rewinds it. True when the
        process kept it."""
        slot, lease.slot = lease.slot, None
        pool, lease.pool = lease.pool or self.pool, None
        if slot is None:
            return False
        if answer is not None and slot.alive:
            slot.commit(answer)
            return pool.hold(slot)
        pool.release(slot)
        return False

    def _settle(
        self,
        pool: Pool,
        slot: Slot,
        outcome: str,
        on_result: Callable[[Result], None] | None = None,
        admitted: Release = lambda: None,
    ) -> None:
        """Gives the slot back to its account's pool; `admitted` is called once the upstream is
        done with the turn (at once, or when an interrupted turn's Result came or its process
        was killed)."""
        if outcome == "held":
            admitted()
            return  # the caller finishes it (TurnRunner.finish)
        if outcome == "finished":
            pool.release(slot)
            admitted()
        elif outcome == "broken":
            pool.discard(slot)
            admitted()
        else:
            pool.background(self._abort(pool, slot, on_result, admitted), name=f"abort-{slot.slot_id}")

    async def _abort(
        self,
        pool: Pool,
        slot: Slot,
        on_result: Callable[[Result], None] | None = None,
        admitted: Release = lambda: None,
    ) -> None:
        """The client went away mid-turn: stop the upstream within a second, or kill."""
        try:
            await self._interrupt(pool, slot, on_result)
        finally:
            admitted()

    async def _interrupt(self, pool: Pool, slot: Slot, on_result: Callable[[Result], None] | None) -> None:
        result = await slot.interrupt(timeout=1.0)
        if result is not None:
            if on_result is not None:
                on_result(result)
            log.info("turn_interrupted", slot_id=slot.slot_id)
            pool.release(slot)
        else:
            log.warning("turn_interrupt_failed_killing", slot_id=slot.slot_id)
            pool.discard(slot)


def _nothing() -> None:
    return None
