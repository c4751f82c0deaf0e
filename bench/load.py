"""Load and fault injection against the fake upstream (loopback only, bounded in time).

N concurrent clients for M seconds against a bridge with a pool of 8. During the run:
a busy CLI process is killed with SIGKILL, the upstream drops every connection for a few
seconds, then answers slowly for a few seconds. Prints requests/s, latency p50/p95/p99,
what the clients saw in each phase, and the peak RSS of the bridge and its CLI processes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench import children, start_bridge
from tests.fake_upstream import FakeUpstream

PHASES = (
    ("steady", 0.0),
    ("kill -9 busy CLI", 0.25),
    ("upstream drops", 0.45),
    ("slow upstream", 0.65),
    ("recovered", 0.85),
)


def rss_mib(pid: int) -> float:
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def busy_cli(pid: int) -> int | None:
    """A CLI child that is using CPU right now (a proxy for 'in a turn')."""
    best, best_ticks = None, -1
    for child in children(pid):
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        if ticks > best_ticks:
            best, best_ticks = child, ticks
    return best


async def run(clients: int, seconds: float, latency_ms: int, pool: int) -> None:
    fake = FakeUpstream(latency_ms=latency_ms)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-load-"))
    (work / "home").mkdir()
    # The server's default queue (32 waiting, 10 s at most): overflow must come back as 429.
    proc, base = await start_bridge(fake.url, pool, work, {"MAX_QUEUE": "32", "QUEUE_TIMEOUT": "10"})
    started = time.monotonic()
    phase_of = lambda t: next(name for name, at in reversed(PHASES) if t >= at * seconds)  # noqa: E731
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    latencies: list[float] = []
    peak_rss = 0.0
    events: list[str] = []

    async def client(http: httpx.AsyncClient, n: int) -> None:
        i = 0
        while time.monotonic() - started < seconds:
            i += 1
            t0 = time.monotonic()
            phase = phase_of(t0 - started)
            body = {
                "model": "gpt-4o",
                "stream": i % 2 == 0,
                "messages": [{"role": "user", "content": f"load {n}-{i} <<words:5>>"}],
            }
            try:
                resp = await http.post("/v1/chat/completions", json=body, timeout=60)
                kind = str(resp.status_code)
                if resp.status_code == 200 and '"error"' in resp.text:
                    kind = "200 then error event"
                elif resp.status_code != 200:
                    kind += " " + str(resp.json().get("error", {}).get("code"))
                if resp.status_code == 200 and kind == "200":
                    latencies.append(time.monotonic() - t0)
            except httpx.TimeoutException:
                kind = "no answer within 60 s (hang)"
            except httpx.HTTPError as exc:
                kind = f"transport error {type(exc).__name__}"
            seen[phase][kind] += 1
            if kind.startswith("429"):
                await asyncio.sleep(0.2)

    async def chaos() -> None:
        nonlocal peak_rss
        done: set[str] = set()
        while time.monotonic() - started < seconds:
            elapsed = time.monotonic() - started
            phase = phase_of(elapsed)
            peak_rss = max(peak_rss, rss_mib(proc.pid))
            if phase == "kill -9 busy CLI" and phase not in done:
                victim = busy_cli(proc.pid)
                if victim:
                    os.kill(victim, signal.SIGKILL)
                    events.append(f"{elapsed:5.1f}s SIGKILL CLI pid {victim}")
                done.add(phase)
            if phase in ("upstream drops", "slow upstream") and phase not in done:
                fake.fault = "drop" if phase == "upstream drops" else "slow"
                fake.fault_until = time.monotonic() + 0.2 * seconds * 0.9
                events.append(f"{elapsed:5.1f}s upstream fault: {fake.fault}")
                done.add(phase)
            await asyncio.sleep(0.1)

    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients)
    try:
        async with httpx.AsyncClient(base_url=base, limits=limits) as http:
            await asyncio.gather(chaos(), *(client(http, n) for n in range(clients)))
            health = (await http.get("/health")).json()
    finally:
        proc.terminate()
        await proc.wait()
        await fake.stop()
    total = sum(sum(c.values()) for c in seen.values())
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000 if ordered else float("nan")

    print(f"\n{clients} clients for {seconds:g} s, pool {pool}, upstream latency {latency_ms} ms (fake, 127.0.0.1)\n")
    print("| requests | req/s | ok | p50 ms | p95 ms | p99 ms | peak RSS (bridge + CLIs) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {total} | {total / elapsed:.1f} | {len(ordered)} | {pct(0.5):.0f} | {pct(0.95):.0f} | {pct(0.99):.0f} "
        f"| {peak_rss:.0f} MiB |"
    )
    print("\n| phase | what the clients saw |\n|---|---|")
    for name, _ in PHASES:
        outcome = ", ".join(f"{k}: {v}" for k, v in seen[name].most_common())
        print(f"| {name} | {outcome} |")
    print("\nfaults injected:\n" + "\n".join(f"- {e}" for e in events))
    print(f"\nafter the run: /health {health['status']}, pool {health['pool']}")
    hangs = sum(c["no answer within 60 s (hang)"] for c in seen.values())
    print(f"\nhangs: {hangs}; median latency {statistics.median(ordered) * 1000 if ordered else 0:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--pool", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.seconds, args.latency_ms, args.pool))
