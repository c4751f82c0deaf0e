"""Prometheus metrics: request counts and latency, time to first token, queue and slots, restarts,
retries, upstream errors by kind, tokens, and spend per API key fingerprint (this process's
counts; /v1/usage has the stored totals). One registry per application (tests build many)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.spend.figures import Spend
from supervisor.accounts import Upstreams
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
        stats = self._runner.upstreams.stats()  # every upstream account's pool together
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


class _PlanCollector(Collector):
    """Each upstream account's plan windows, as the CLI last reported them (`rate_limit_event`)."""

    def __init__(self, upstreams: Upstreams) -> None:
        self._upstreams = upstreams

    def collect(self) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "bridge_plan_window_utilization",
            "share of an upstream account's plan window used (0-1), as the CLI last reported it",
            labels=["account", "window"],
        )
        resets = GaugeMetricFamily(
            "bridge_plan_window_resets_at_seconds",
            "when an upstream account's plan window resets (Unix time)",
            labels=["account", "window"],
        )
        rejected = GaugeMetricFamily(
            "bridge_plan_window_rejected",
            "1 while an upstream account's plan window has run out (until its reset), else 0",
            labels=["account", "window"],
        )
        limited = GaugeMetricFamily(
            "bridge_upstream_limited",
            "1 while an upstream account takes no turns because a plan window ran out, else 0",
            labels=["account"],
        )
        for upstream in self._upstreams.all:
            report = upstream.limits.report()
            limited.add_metric([upstream.name], 1 if report["limited"] else 0)
            for window, figures in report["windows"].items():
                if figures["utilization"] is not None:
                    used.add_metric([upstream.name, window], figures["utilization"])
                if figures["resets_at"] is not None:
                    resets.add_metric([upstream.name, window], figures["resets_at"])
                rejected.add_metric([upstream.name, window], 1 if figures["status"] == "rejected" else 0)
        yield from (used, resets, rejected, limited)


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

    def watch(self, pool: Pool, runner: TurnRunner, upstreams: Upstreams | None = None) -> None:
        self.registry.register(_PoolCollector(pool, runner))
        self.registry.register(_PlanCollector(upstreams or runner.upstreams))
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
