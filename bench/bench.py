"""Latency, throughput and memory of the bridge, side by side with the alternatives, in one run.

Everything talks to the fake upstream on 127.0.0.1 with a fixed latency, so differences are
the bridges' own. Run with `make bench`. Loops are bounded in count and time.

    (a) the bridge's warm pool          (b) one cold `claude -p` per request
    (c) the fake upstream alone         (d) one warm CLI driven by a bare script
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.bare import BareCli, cold_turn
from bridge.config import PINNED_CLI
from tests.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "bench <<say:ok then>>"
CLI_FLAGS = [
    "--tools",
    "",
    "--setting-sources",
    "",
    "--strict-mcp-config",
    "--no-session-persistence",
    "--system-prompt",
    "",
    "--model",
    "sonnet",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(url: str, home: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": home,
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_TMPDIR": home,
    }


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def repeat(n: int, fn: Callable[[], Awaitable[tuple[float, float]]]) -> tuple[list[float], list[float]]:
    firsts, totals = [], []
    for _ in range(n):
        first, total = await fn()
        firsts.append(first)
        totals.append(total)
    return firsts, totals


HISTORY = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"earlier message {i}"} for i in range(10)]


async def bridge_turn(http: httpx.AsyncClient, stream: bool, history: bool = False) -> tuple[float, float]:
    messages = [{"role": "user", "content": PROMPT}]
    if history:
        # Each request's history differs from the start, so none finds it held: a full replay.
        messages = [{**HISTORY[0], "content": f"{HISTORY[0]['content']} {uuid.uuid4().hex}"}, *HISTORY[1:], *messages]
    body = {"model": "gpt-4o", "messages": messages, "stream": stream}
    t0 = time.perf_counter()
    first = None
    async with http.stream("POST", "/v1/chat/completions", json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if first is None and '"content":"o' in line:
                first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return (first or total), total


async def session_turn(http: httpx.AsyncClient, session: str, text: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    resp = await http.post(
        "/v1/chat/completions",
        headers={"X-Session-ID": session},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]},
    )
    resp.raise_for_status()
    total = time.perf_counter() - t0
    return total, total


async def upstream_turn(http: httpx.AsyncClient) -> tuple[float, float]:
    body = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    t0 = time.perf_counter()
    first = None
    async with http.stream("POST", "/v1/messages", json=body) as resp:
        async for line in resp.aiter_lines():
            if first is None and "content_block_delta" in line:
                first = time.perf_counter() - t0
    return (first or 0.0), time.perf_counter() - t0


async def fill_warm_seats(http: httpx.AsyncClient, latency_ms: int) -> int:
    """Brings the bridge to its steady state before anything is measured: every warm seat
    (WARM_CONVERSATIONS) holds a continued conversation, as on a server that has run a while.

    Until then each new conversation that is continued takes a seat of its own, and the
    process started for the standby it used costs 0.5-1 s of CPU while other turns run (on this
    2-core machine: +36 ms at the median of a short chat measured meanwhile, 2026-12-05). The
    session rows below open a new conversation every round, so without this the whole run
    would be that transient. Returns the number of seats filled."""
    text = (await http.get("/metrics")).text
    limit = int(float(next(line.split()[-1] for line in text.splitlines() if line.startswith("bridge_warm_limit"))))
    for i in range(limit):
        for turn in range(2):
            await session_turn(http, f"sess_fill_{i}_{latency_ms}", f"fill {turn}")
    for _ in range(600):
        pool = (await http.get("/health")).json()["pool"]
        if not pool["starting"] and not pool["resetting"]:
            break
        await asyncio.sleep(0.1)
    return limit


async def throughput(http: httpx.AsyncClient, concurrency: int, seconds: float) -> tuple[float, int, int]:
    done = errors = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < end:
            resp = await http.post(
                "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]}
            )
            if resp.status_code == 200:
                done += 1
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - t0), done, errors


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """utime + stime of a process; with reaped_children, of its ended children instead."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    first = 13 if reaped_children else 11
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def cpu_split(bridge_pid: int) -> dict[str, float]:
    return {
        "bridge": cpu_seconds(bridge_pid),
        # Live CLI processes plus those recycled (and reaped) during the measurement.
        "cli": sum(cpu_seconds(p) for p in children(bridge_pid) if Path(f"/proc/{p}").exists())
        + cpu_seconds(bridge_pid, reaped_children=True),
        "bench+fake": time.process_time(),
    }


def child_pss_mib(parent: int) -> list[float]:
    values = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != parent:
                continue
            rollup = (stat.parent / "smaps_rollup").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                values.append(int(line.split()[1]) / 1024)
    return values


async def start_bridge(
    url: str, pool: int, work: Path, extra: dict[str, str] | None = None, log_path: Path | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    """The bridge as a process of its own; with `log_path` its JSON logs (stderr) go there."""
    port = free_port()
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "POOL_SIZE": str(pool),
        "MAX_QUEUE": "64",
        "QUEUE_TIMEOUT": "60",
        "LOG_LEVEL": "WARNING",
        "HOME": str(work / "home"),
        "SLOT_DIR": str(work / "slots"),
        "HISTORY_DIR": str(work / "history"),
        **(extra or {}),
    }
    log_file = None if log_path is None else log_path.open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), env=env, cwd=str(ROOT), stderr=log_file
    )
    if log_file is not None:
        log_file.close()  # the child has its own copy
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(600):
            try:
                body = (await http.get("/health")).json()
                if body["pool"]["warm"] == pool:
                    return proc, base
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bridge did not become ready")


async def main(latency_ms: int, n: int, cold_n: int, pool: int, seconds: float) -> dict[str, object]:
    fake = FakeUpstream(latency_ms=latency_ms)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix=f"bridge-bench-{latency_ms}-"))
    (work / "home").mkdir()
    claude = str(PINNED_CLI)
    results: dict[str, object] = {"latency_ms": latency_ms, "pool": pool}
    rows: list[tuple[str, tuple[float, float], tuple[float, float]]] = []

    bare = BareCli(
        [
            claude,
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            *CLI_FLAGS,
        ],
        cli_env(fake.url, str(work / "home")),
        str(work),
    )
    cold_argv = [claude, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages", *CLI_FLAGS]
    await bare.start()
    proc, base = await start_bridge(fake.url, pool, work)
    samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in "abcdhs"}

    def keep(key: str, sample: tuple[float, float]) -> None:
        samples[key][0].append(sample[0])
        samples[key][1].append(sample[1])

    try:
        idle_pss = child_pss_mib(proc.pid)
        async with (
            httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=64)) as http,
            httpx.AsyncClient(base_url=fake.url, timeout=60) as upstream,
        ):
            for _ in range(2 * pool):
                await bridge_turn(http, False)
                await bare.turn(PROMPT)
            results["filled_warm_seats"] = await fill_warm_seats(http, latency_ms)
            # Interleaved, so that drift on a busy 2-core machine hits every path alike.
            for _ in range(n):
                a_total = (await bridge_turn(http, False))[1]
                a_first = (await bridge_turn(http, True))[0]
                keep("a", (a_first, a_total))
                keep("d", await bare.turn(PROMPT))
                keep("c", await upstream_turn(upstream))
                keep("h", await bridge_turn(http, False, history=True))
                # The same 10 earlier messages as a stored session: 5 turns, then the measured 6th
                # continues on the process that holds the conversation (no replay).
                if latency_ms < 500:
                    sid = f"sess_bench_{len(samples['s'][0])}_{latency_ms}"
                    for turn in range(5):
                        await session_turn(http, sid, f"earlier message {turn}")
                    keep("s", await session_turn(http, sid, PROMPT))
            for i in range(cold_n + 1):
                sample = await cold_turn(cold_argv, cli_env(fake.url, str(work / "home")), str(work), PROMPT)
                if i:
                    keep("b", sample)
            await bare.close()
            names = {
                "a": "(a) bridge, warm pool",
                "b": "(b) cold `claude -p` per request",
                "c": "(c) fake upstream alone",
                "d": "(d) bare script, one warm CLI",
                "h": "(a) with 10 earlier messages replayed (a new history each time)",
                "s": "(a) session turn with 10 stored messages, on its bound process",
            }
            for key, name in names.items():
                firsts, totals = samples[key]
                if not totals:
                    continue
                rows.append((name, stats(totals), stats(firsts)))
            tput = {}
            cpu = {}
            for c in (1, 4, 8, 16):
                before = cpu_split(proc.pid)
                tput[c] = await throughput(http, c, seconds)
                after = cpu_split(proc.pid)
                cpu[c] = {k: (after[k] - before[k]) * 1000 / max(1, tput[c][1]) for k in before}
        used_pss = child_pss_mib(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()
        await fake.stop()

    print(
        f"\n### Upstream latency {latency_ms} ms\n\nFake upstream on 127.0.0.1 answering after {latency_ms} ms; "
        f"{n} sequential requests per row ({cold_n} for the cold CLI); pool of {pool}; measured after "
        f"{results['filled_warm_seats']} warm seats were filled with continued conversations (steady state).\n"
    )
    print("| path | non-streamed median ms | p95 ms | streamed TTFT median ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, (tm, tp), (fm, fp) in rows:
        print(f"| {name} | {tm:.1f} | {tp:.1f} | {fm:.1f} | {fp:.1f} |")
    a = rows[0][1][0]
    b = next(r for r in rows if r[0].startswith("(b)"))[1][0]
    h = next(r for r in rows if "replayed" in r[0])[1][0]
    bound = next((r for r in rows if "bound process" in r[0]), None)
    d = next(r for r in rows if r[0].startswith("(d)"))[1][0]
    a_ttft = rows[0][2][0]
    b_ttft = next(r for r in rows if r[0].startswith("(b)"))[2][0]
    d_ttft = next(r for r in rows if r[0].startswith("(d)"))[2][0]
    print(f"\n- bridge / cold latency ratio: {a / b:.3f} (target < 0.2); TTFT ratio {a_ttft / b_ttft:.3f}")
    print(
        f"- bridge overhead over the bare CLI, (a) - (d): {a - d:.1f} ms median (target < 10); "
        f"TTFT {a_ttft - d_ttft:.1f} ms"
    )
    print(f"- replaying 10 earlier messages costs {h - a:.1f} ms at the median", end="")
    if bound is not None:
        print(f"; a session turn on its bound process costs {bound[1][0] - a:.1f} ms over a fresh turn", end="")
    print()
    target = 0.8 * pool / (latency_ms / 1000)
    print("\n| concurrency | requests/s | completed | errors | CPU ms/request: bridge | CLI | bench client + fake |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c, (rps, done, errors) in tput.items():
        share = cpu[c]
        print(
            f"| {c} | {rps:.1f} | {done} | {errors} | {share['bridge']:.1f} | {share['cli']:.1f} "
            f"| {share['bench+fake']:.1f} |"
        )
    print(
        f"\n- throughput at concurrency 8: {tput[8][0]:.1f} req/s; target >= 0.8 x {pool}/{latency_ms / 1000:g}s"
        f" = {target:.1f}"
    )
    print(
        f"- PSS per warm slot: idle {statistics.mean(idle_pss):.0f} MiB, after the run "
        f"{statistics.mean(used_pss):.0f} MiB ({len(used_pss)} processes)"
    )
    results.update(rows=rows, throughput=tput, idle_pss=idle_pss, used_pss=used_pss)
    return results


async def run_all(latencies: list[int], n: int, cold_n: int, pool: int, seconds: float) -> list[dict[str, object]]:
    # Slow upstreams get fewer sequential samples so the whole run stays within minutes.
    return [
        await main(latency, n if latency < 500 else 12, cold_n if latency < 500 else 6, pool, seconds)
        for latency in latencies
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latencies", default="25,200,1000", help="upstream latencies in ms, comma-separated")
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--cold-n", type=int, default=12)
    parser.add_argument("--pool", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    latencies = [int(x) for x in args.latencies.split(",")]
    out = asyncio.run(run_all(latencies, args.n, args.cold_n, args.pool, args.seconds))
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"bench-{int(time.time())}.json").write_text(json.dumps(out, default=str, indent=1))
