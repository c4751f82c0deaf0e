"""Load through nginx against 1, 2 and 3 replicas (loopback only, bounded in time).

For each replica count: that many bridges (POOL_SIZE each) behind the shipped nginx
configuration, one redis-server, the fake upstream at a fixed latency. Half of the clients run
sessions (X-Session-ID, one turn after another), half are stateless with an API key each.
Prints requests/s, p50 and p95 latency, and the share of session turns that ran on their bound
process, per replica count. On one machine the replicas share its cores: the figures show the
cost of the proxy and of affinity, not the scaling of separate hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench import free_port
from bench.cluster import start_cluster
from tests.fake_upstream import FakeUpstream


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    return proc, f"redis://127.0.0.1:{port}/0"


async def one_run(replicas: int, clients: int, seconds: float, pool: int, fake: FakeUpstream, redis: str) -> str:
    work = Path(tempfile.mkdtemp(prefix=f"bridge-replicas-{replicas}-"))
    env = {"HISTORY_STORAGE": "redis", "REDIS_URL": redis, "MAX_QUEUE": "256", "QUEUE_TIMEOUT": "60"}
    cluster = await start_cluster(fake.url, replicas, pool, work, env)
    latencies: list[float] = []
    outcomes: collections.Counter[str] = collections.Counter()
    turns: collections.Counter[str] = collections.Counter()
    end = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient, n: int) -> None:
        session = n % 2 == 0
        headers = {"Authorization": f"Bearer load-{n}"}
        if session:
            headers["X-Session-ID"] = f"sess_load_{replicas}_{n}"
        turn = 0
        while time.monotonic() < end:
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"c{n} t{turn} <<words:12>>"}]}
            started = time.monotonic()
            try:
                resp = await http.post("/v1/chat/completions", json=body, headers=headers)
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
                continue
            outcomes[str(resp.status_code)] += 1
            if resp.status_code == 200:
                latencies.append(time.monotonic() - started)
                if session:
                    turns[resp.headers.get("X-Bridge-Session", "?")] += 1
            turn += 1

    started = time.monotonic()
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients)
    try:
        async with httpx.AsyncClient(base_url=cluster.url, limits=limits, timeout=120) as http:
            await asyncio.gather(*(client(http, n) for n in range(clients)))
    finally:
        await cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000 if ordered else float("nan")

    later = turns["resumed"] + turns["replayed"]
    bound = f"{turns['resumed'] / later:.0%}" if later else "-"
    seen = ", ".join(f"{k}: {v}" for k, v in outcomes.most_common())
    return (
        f"| {replicas} | {replicas * pool} | {sum(outcomes.values())} | {len(ordered) / elapsed:.1f} "
        f"| {pct(0.5):.0f} | {pct(0.95):.0f} | {bound} | {seen} |"
    )


async def main(counts: list[int], clients: int, seconds: float, pool: int, latency_ms: int) -> None:
    fake = FakeUpstream(latency_ms=latency_ms)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-replicas-redis-"))
    redis, url = start_redis(work)
    rows = []
    try:
        for replicas in counts:
            rows.append(await one_run(replicas, clients, seconds, pool, fake, url))
    finally:
        redis.terminate()
        redis.wait(10)
        await fake.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{clients} clients (half sessions, half stateless) for {seconds:g} s per row, through nginx, "
        f"POOL_SIZE={pool} per replica, upstream latency {latency_ms} ms (fake, 127.0.0.1)\n"
    )
    print("| replicas | slots | requests | req/s | p50 ms | p95 ms | session turns bound | statuses |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", default="1,2,3", help="comma-separated replica counts")
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    counts = [int(c) for c in args.replicas.split(",") if c.strip()]
    asyncio.run(main(counts, args.clients, args.seconds, args.pool, args.latency_ms))
