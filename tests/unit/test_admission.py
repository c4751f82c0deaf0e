"""The admission seam without processes: per-tenant caps, the turn estimate, the budget guard,
and what the runner does with a refused turn's slot."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from bridge.errors import InsufficientQuota, RateLimited
from bridge.spend.estimate import CLI_DEFAULT_MAX_TOKENS, IMAGE_TOKENS, prices, turn_cost, turn_tokens
from bridge.spend.figures import Spend
from bridge.spend.guard import BudgetGuard
from bridge.spend.ledger import Ledger
from bridge.storage.memory import MemoryStore
from bridge.tokens import estimate_tokens
from supervisor.admission import Admission, TenantCaps, TenantQueueFull, TenantTimeout
from supervisor.launch import ClientTool
from supervisor.pool import Pool
from supervisor.runner import RetryPolicy, TurnRunner
from supervisor.turn import Line, ReAsk, TurnSettings, TurnSpec

MODELS: list[dict[str, object]] = [
    {"value": "sonnet", "resolvedModel": "claude-sonnet-5-5", "description": "Sonnet · $2/$10 per Mtok"},
    {
        "value": "haiku",
        "resolvedModel": "claude-haiku-5-5",
        "description": "Haiku · $0.10/$0.50 per Mtok ($0.50/$2.50 for prompts over 100k)",
    },
    {"value": "opus", "resolvedModel": "claude-opus-5-5", "description": "Opus · $5/$25 per Mtok"},
    {"value": "default", "description": "Use the default model"},
]


# -- TenantCaps ---------------------------------------------------------------------------


async def test_a_tenant_runs_at_most_its_cap_and_waiters_go_in_order() -> None:
    caps = TenantCaps(cap=1, max_waiting=5, timeout=5)
    first = await caps.enter("a")
    order: list[int] = []

    async def wait(i: int) -> None:
        release = await caps.enter("a")
        order.append(i)
        await asyncio.sleep(0)
        release()

    waiters = [asyncio.create_task(wait(i)) for i in range(3)]
    other = await asyncio.wait_for(caps.enter("b"), 1)  # another tenant is not held up
    await asyncio.sleep(0.01)
    assert order == [] and caps.running("a") == 1
    first()
    first()  # a second call gives nothing back twice
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2] and caps.running("a") == 0
    other()
    assert caps.running("b") == 0


async def test_beyond_max_waiting_a_tenant_is_refused_with_retry_after() -> None:
    caps = TenantCaps(cap=1, max_waiting=1, timeout=10)
    release = await caps.enter("a")
    waiting = asyncio.create_task(caps.enter("a"))
    await asyncio.sleep(0)
    with pytest.raises(TenantQueueFull) as full:
        await caps.enter("a")
    assert full.value.retry_after == 5 and "already runs 1 turns at once" in str(full.value)
    release()
    (await waiting)()


async def test_a_waiter_times_out_and_a_cancelled_one_passes_its_place_on() -> None:
    caps = TenantCaps(cap=1, max_waiting=3, timeout=0.05)
    release = await caps.enter("a")
    with pytest.raises(TenantTimeout):
        await caps.enter("a")
    caps.timeout = 5
    gone = asyncio.create_task(caps.enter("a"))
    after = asyncio.create_task(caps.enter("a"))
    await asyncio.sleep(0)
    release()  # handed to `gone`, which is cancelled before it runs: the place goes on to `after`
    gone.cancel()
    (await asyncio.wait_for(after, 1))()
    assert caps.running("a") == 0 and not caps._waiting


async def test_cap_zero_is_no_cap() -> None:
    caps = TenantCaps(cap=0, max_waiting=0, timeout=0)
    releases = [await caps.enter("a") for _ in range(10)]
    assert caps.running("a") == 0
    for release in releases:
        release()


# -- the estimate -------------------------------------------------------------------------


def test_prices_come_from_the_clis_model_list() -> None:
    assert prices(MODELS, "sonnet") == (2e-6, 10e-6)
    assert prices(MODELS, "claude-opus-5-5") == (5e-6, 25e-6)
    assert prices(MODELS, "haiku") == (0.5e-6, 2.5e-6), "the dearest the description names"
    assert prices(MODELS, "claude-sonnet-4-5") == (5e-6, 25e-6), "an unlisted model: the dearest listed"
    assert prices(MODELS[3:], "sonnet") is None


def test_a_turn_reserves_its_prompt_and_its_output_cap() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 100_000}}
    spec = TurnSpec(
        model="sonnet",
        message=[{"type": "text", "text": "what is this"}, image],
        history=(Line("user", "hello there"), Line("assistant", "hi")),
        system_prompt="be brief",
        client_tools=(ClientTool("f", "does f", '{"type":"object"}'),),
    )
    tokens_in, tokens_out = turn_tokens(spec)
    text = sum(estimate_tokens(t) for t in ("what is this", "hello there", "hi", "be brief", "does f"))
    assert text + IMAGE_TOKENS < tokens_in < text + IMAGE_TOKENS + 20, "the image's base64 is not counted as text"
    assert tokens_out == CLI_DEFAULT_MAX_TOKENS
    assert turn_cost(spec, MODELS) == pytest.approx(tokens_in * 2e-6 + CLI_DEFAULT_MAX_TOKENS * 10e-6)
    capped = TurnSpec(model="sonnet", message="hi", settings=TurnSettings(max_output_tokens=10))
    assert turn_cost(capped, MODELS) == pytest.approx(estimate_tokens("hi") * 2e-6 + 10 * 10e-6)
    asked_again = TurnSpec(
        model="sonnet", message="hi", settings=TurnSettings(max_output_tokens=10), reask=ReAsk("call it", times=2)
    )
    assert turn_cost(asked_again, MODELS) == pytest.approx(3 * turn_cost(capped, MODELS))
    assert turn_cost(capped, MODELS[3:]) == 0


# -- the budget guard ---------------------------------------------------------------------


async def test_reservations_count_until_the_clis_figure_is_stored() -> None:
    ledger = Ledger(MemoryStore())
    refused: list[str] = []
    guard = BudgetGuard(ledger, {"key_a": {"day": 1.0}}, refused.append, wait=5)
    free = guard.admission("key_other", "t", lambda: 5.0)
    assert free.tenant == "t" and free.admit is None and free.ready is None, "a key without a budget is not asked"
    admission = guard.admission("key_a", "t", lambda: 0.6)
    assert admission.admit is not None and admission.ready is not None
    await admission.ready()
    first = await admission.admit()
    second = await admission.admit()  # 0.6 reserved: something is left
    assert first is not None and second is not None
    assert guard.reserved("key_a") == pytest.approx(1.2)
    assert await admission.admit() is None, "not yet: the reservations fill the budget"
    waiting = asyncio.create_task(admission.ready())
    ledger.record("key_a", Spend(cost_usd=0.1), 1)
    first()  # the figure is being stored: the reservation goes once it is
    assert guard.reserved("key_a") == pytest.approx(1.2) and not waiting.done()
    await asyncio.wait_for(waiting, 1)
    assert guard.reserved("key_a") == pytest.approx(0.6)
    second()
    assert guard.reserved("key_a") == 0 and not refused
    third = await guard.admission("key_a", "t", lambda: 2.0).admit()  # $0.1 spent, nothing reserved
    assert third is not None
    guard.wait = 0.05
    with pytest.raises(RateLimited) as busy:
        await admission.ready()
    assert "reserved what is left of its budget" in str(busy.value)
    third()
    ledger.record("key_a", Spend(cost_usd=0.95), 1)
    await admission.ready()  # nothing reserved: nothing to wait for, and the spend is checked by admit
    for refuse in (guard.check("key_a"), admission.admit()):
        with pytest.raises(InsufficientQuota) as used_up:
            await refuse
        assert "is used up ($1.0500 spent today, UTC)." in str(used_up.value)
    assert refused == ["key_a"] * 2


# -- the runner's seam --------------------------------------------------------------------


class _Pool:
    """Only what TurnRunner asks of a pool before a turn runs."""

    unavailable = False  # the upstream account's pool can start processes

    def __init__(self) -> None:
        self.slot = object()
        self.given_back: list[object] = []

    async def acquire(self, want: Any) -> object:
        return self.slot

    def hold(self, slot: object) -> None:
        self.given_back.append(slot)


async def test_a_refused_turn_gives_its_slot_and_its_place_back() -> None:
    pool = _Pool()
    caps = TenantCaps(cap=1, max_waiting=0, timeout=1)
    runner = TurnRunner(cast(Pool, pool), 5, RetryPolicy(), caps=caps)
    said: list[str] = []

    async def ready() -> None:
        said.append("ready")

    async def admit() -> Any:
        said.append("admit")
        if said.count("admit") == 1:
            return None  # not yet: the slot goes back, and the turn is ready again first
        raise InsufficientQuota("no")

    with pytest.raises(InsufficientQuota):
        async for _ in runner.stream(TurnSpec(model="sonnet", message="hi"), admission=Admission("a", admit, ready)):
            pass
    assert said == ["ready", "admit", "ready", "admit"]
    assert pool.given_back == [pool.slot, pool.slot] and caps.running("a") == 0
