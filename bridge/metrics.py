"""Prometheus metrics: request counts and latency, time to first token, queue and slots, restarts,
retries, upstream errors by kind, tokens, and spend per API key fingerprint (this process's
counts; /v1/usage has the stored totals). One registry per application (tests build many)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge import appkeys
from bridge.spend.figures import Spend
from supervisor.pool import Pool
from supervisor.runner import TurnRunner

STARTED = web.RequestKey("started", float)
FIRST_TOKEN = web.RequestKey("first_token_seen", bool)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _PoolCollector(Collector):
    def __init__(self, pool: Pool, runner: TurnRunner) -> None:
        self._pool = pool
        self._runner = runner

    def collect(self) -> Iterator[Metric]:
        stats = self._pool.stats()
        slots = GaugeMetricFamily("bridge_slots", "CLI processes by state", labels=["state"])
        for state in ("warm", "busy", "starting", "resetting"):
            slots.add_metric([state], stats[state])
        yield slots
        yield GaugeMetricFamily("bridge_pool_size", "turns that run at once (POOL_SIZE)", value=stats["size"])
        yield GaugeMetricFamily(
            "bridge_warm_limit",
            "CLI processes kept, one conversation each (WARM_CONVERSATIONS)",
            value=stats["warm_limit"],
        )
        yield GaugeMetricFamily("bridge_parked", "idle CLI processes stopped (SIGSTOP)", value=stats["parked"])
        yield GaugeMetricFamily("bridge_queue_depth", "requests waiting for a slot", value=stats["queue_depth"])
        yield CounterMetricFamily("bridge_process_restarts", "CLI processes replaced", value=stats["restarts"])
        yield CounterMetricFamily(
            "bridge_retries", "turns retried after a transient failure", value=self._runner.retries
        )
        errors = CounterMetricFamily("bridge_upstream_errors", "failed turns by kind", labels=["kind"])
        for kind, count in sorted(self._runner.failures.items()):
            errors.add_metric([kind], count)
        yield errors


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bridge_requests", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "bridge_request_seconds",
            "HTTP request duration",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "bridge_time_to_first_token_seconds",
            "time to the first output of a turn",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "bridge_queue_wait_seconds", "time waiting for a slot", buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.tokens = Counter("bridge_tokens", "tokens reported by the CLI", ["direction"], registry=self.registry)
        self.session_turns = Counter(
            "bridge_session_turns",
            "session turns by how they ran: resumed on the process holding the conversation, replayed "
            "into another, new, or stored (an Idempotency-Key retry answered from the store)",
            ["how"],
            registry=self.registry,
        )
        self.key_requests = Counter(
            "bridge_key_requests",
            "generation requests that ran a turn, by API key fingerprint",
            ["key"],
            registry=self.registry,
        )
        self.key_tokens = Counter(
            "bridge_key_tokens",
            "tokens the CLI reported, by API key fingerprint and kind",
            ["key", "kind"],
            registry=self.registry,
        )
        self.key_cost = Counter(
            "bridge_key_cost_usd", "USD the CLI reported, by API key fingerprint", ["key"], registry=self.registry
        )
        self.budget_rejections = Counter(
            "bridge_budget_rejections",
            "requests refused because a key's budget was used up",
            ["key"],
            registry=self.registry,
        )

    def watch(self, pool: Pool, runner: TurnRunner) -> None:
        self.registry.register(_PoolCollector(pool, runner))
        runner.on_queue_wait = self.queue_wait.observe

    def first_output(self, request: web.Request) -> None:
        if not request.get(FIRST_TOKEN) and STARTED in request:
            request[FIRST_TOKEN] = True
            self.ttft.observe(time.perf_counter() - request[STARTED])

    def session_turn(self, how: str) -> None:
        self.session_turns.labels(how).inc()

    def count_spend(self, key: str, spend: Spend, requests: int) -> None:
        """A turn's spend for one key (the ledger's listener)."""
        if requests:
            self.key_requests.labels(key).inc(requests)
        for kind, value in (
            ("input", spend.input_tokens),
            ("output", spend.output_tokens),
            ("cache_read", spend.cache_read_input_tokens),
            ("cache_write", spend.cache_creation_input_tokens),
        ):
            self.key_tokens.labels(key, kind).inc(value)
        self.key_cost.labels(key).inc(spend.cost_usd)

    def count_tokens(self, prompt: int, completion: int) -> None:
        self.tokens.labels("in").inc(prompt)
        self.tokens.labels("out").inc(completion)


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    metrics = request.app[appkeys.METRICS]
    request[STARTED] = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.requests.labels(route, request.method, str(status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - request[STARTED])


async def metrics_view(request: web.Request) -> web.Response:
    body = generate_latest(request.app[appkeys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
