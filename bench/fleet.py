"""The fleet workload: many stateless agents of a few apps on few turns at once.

Each agent has its own API key, its app's system prompt and tool set (20 functions; apps differ
in one description, so each app's set is a tool set of its own), and its own history, which starts
at a length drawn from `--history` and grows by two messages a turn (the answer, and the next
user message). Between turns it "runs its tool" for a time drawn from `--think`; the fake
upstream answers after `--latency` ms.

The same workload runs on each configuration in one run, one after the other: the bridge with
`POOL_SIZE=--pool` and default settings otherwise, and with one process per agent
(`POOL_SIZE=agents`). Per configuration it reports p50/p95 of a turn, turns/s, the share of turns
that replayed more than their new messages (more than 2 lines: a turn on the process that held
its conversation replays none), the share that waited for a process started while they waited,
and CPU per turn (the bridge process and its CLI processes). From the bridge's own request logs
(`resumed_lines`, `replayed_lines`, `new_process`).

Run with `make bench` or `python -m bench.fleet --agents 12 --apps 3 --pool 4 --seconds 40`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.agent import cold_turn, history, system_prompt, tools
from bench.bench import cpu_split, start_bridge
from tests.fake_upstream import FakeUpstream


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Agent:
    def __init__(self, index: int, apps: int, lengths: tuple[int, int], rng: random.Random) -> None:
        self.key = f"sk-fleet-{index}"
        self.app = index % apps
        n = rng.randint(lengths[0] // 2, lengths[1] // 2) * 2
        self.tag = f"a{index}-{os.getpid()}"
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(f"App {self.app}.")},
            *history(n, self.tag),
            {"role": "user", "content": f"[{self.tag}] turn 0"},
        ]
        self.turns = 0

    async def turn(self, http: httpx.AsyncClient) -> float:
        body = {"model": "gpt-4o", "tools": tools(variant=self.app + 1), "messages": self.messages}
        t0 = time.perf_counter()
        resp = await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {self.key}"})
        elapsed = time.perf_counter() - t0
        resp.raise_for_status()
        answer = resp.json()["choices"][0]["message"]
        self.turns += 1
        self.messages += [
            {k: v for k, v in answer.items() if v is not None and k in ("role", "content", "tool_calls")},
            {"role": "user", "content": f"[{self.tag}] turn {self.turns}"},
        ]
        return elapsed


async def workload(
    url: str, agents: list[Agent], think: tuple[float, float], seconds: float, rng: random.Random
) -> list[float]:
    """All agents run for `seconds`: the measured latencies."""
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        end = time.monotonic() + seconds

        async def run(agent: Agent) -> None:
            await asyncio.sleep(rng.uniform(0, think[1]))  # spread the starts
            while time.monotonic() < end:
                samples.append(await agent.turn(http))
                await asyncio.sleep(rng.uniform(*think))

        await asyncio.gather(*(run(a) for a in agents))
    return samples


def request_logs(path: Path, skip: int) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text().splitlines()[skip:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "request" and event.get("path") == "/v1/chat/completions":
            events.append(event)
    return events


async def one_config(
    label: str,
    fake: FakeUpstream,
    work: Path,
    pool: int,
    env: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    agents = [Agent(i, args.apps, args.history, rng) for i in range(args.agents)]
    keys = ",".join(a.key for a in agents)
    log_path = work / f"{label}.log"
    proc, url = await start_bridge(
        fake.url,
        pool,
        work / label,
        {"HOME": str(work / "home"), "LOG_LEVEL": "INFO", "API_KEYS": keys, **env},
        log_path=log_path,
    )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            # Warm-up, unmeasured: each agent's first turn and one continuation. When many agents
            # start at once, a first conversation may go to the next newcomer before its owner
            # comes back (a rewind instead of a process start); the second turn settles that.
            for _ in range(2):
                await asyncio.gather(*(a.turn(http) for a in agents))
        skip = len(log_path.read_text().splitlines())
        before = cpu_split(proc.pid)
        t0 = time.monotonic()
        samples = await workload(url, agents, args.think, args.seconds, rng)
        wall = time.monotonic() - t0
        after = cpu_split(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()
    events = request_logs(log_path, skip)
    n = max(1, len(events))
    return {
        "label": label,
        "turns": len(samples),
        "p50": statistics.median(samples) * 1000,
        "p95": percentile(samples, 0.95) * 1000,
        "turns_per_s": len(samples) / wall,
        "replayed": sum(1 for e in events if e.get("replayed_lines", 0) > 2) / n,
        "waited_start": sum(1 for e in events if e.get("new_process")) / n,
        "bridge_cpu_ms": (after["bridge"] - before["bridge"]) * 1000 / n,
        "cli_cpu_ms": (after["cli"] - before["cli"]) * 1000 / n,
        "history": statistics.median(len(a.messages) for a in agents),
    }


async def main(args: argparse.Namespace) -> None:
    fake = FakeUpstream(latency_ms=args.latency)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-fleet-"))
    (work / "home").mkdir()
    tables: list[tuple[int, list[dict[str, Any]]]] = []
    cold: list[float] = []
    try:
        for agents in args.agents:
            run = argparse.Namespace(**{**vars(args), "agents": agents})
            configs: list[tuple[str, int, dict[str, str]]] = [
                (f"POOL_SIZE={args.pool[0]}", args.pool[0], {}),
                (f"one process per agent (POOL_SIZE={agents})", agents, {}),
            ]
            configs += [(f"POOL_SIZE={pool}", pool, {}) for pool in args.pool[1:]]
            if args.before:
                pool = args.pool[0]
                label = f"POOL_SIZE={pool}, WARM_CONVERSATIONS={pool} (one conversation per turn at once)"
                configs.append((label, pool, {"WARM_CONVERSATIONS": str(pool)}))
            rows = []
            for i, (label, pool, env) in enumerate(configs):
                rows.append(await one_config(f"a{agents}-c{i}", fake, work, pool, env, run))
                rows[-1]["label"] = label
            tables.append((agents, rows))
        middle = (args.history[0] + args.history[1]) // 4 * 2
        for i in range(args.cold):
            cold.append(await cold_turn(fake.url, work, middle, f"cold{i}") * 1000)
    finally:
        await fake.stop()
    for agents, rows in tables:
        print(
            f"\n### Fleet: {agents} agents of {args.apps} apps, upstream {args.latency} ms, think "
            f"{args.think[0]:g}-{args.think[1]:g} s, histories from {args.history[0]}-{args.history[1]} messages, "
            f"{args.seconds:g} s per configuration\n"
        )
        print(
            "| configuration | turns | p50 ms | p95 ms | turns/s | replayed more than new | waited for a start "
            "| CPU ms/turn: bridge | CLI |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['label']} | {r['turns']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['turns_per_s']:.2f} "
                f"| {r['replayed']:.0%} | {r['waited_start']:.0%} | {r['bridge_cpu_ms']:.1f} | {r['cli_cpu_ms']:.0f} |"
            )
        base, own = rows[0], rows[1]
        print(f"\n- p50 / one process per agent: {base['p50'] / own['p50']:.2f}; p95: {base['p95'] / own['p95']:.2f}")
    if cold:
        middle = (args.history[0] + args.history[1]) // 2
        print(
            f"- a cold CLI per turn (history {middle}): median {statistics.median(cold):.0f} ms, max {max(cold):.0f} ms"
        )


def span(text: str, kind: type = float) -> tuple[Any, Any]:
    lo, _, hi = text.partition("-")
    return kind(lo), kind(hi or lo)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=lambda s: [int(n) for n in s.split(",")], default=[12, 24], help="e.g. 12,24")
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument(
        "--pool", type=lambda s: [int(n) for n in s.split(",")], default=[4], help="POOL_SIZE, e.g. 4 or 4,6"
    )
    parser.add_argument("--latency", type=int, default=300, help="upstream delay per turn, ms")
    parser.add_argument("--think", type=lambda s: span(s), default=(0.5, 3.0), help="seconds between turns, e.g. 0.5-3")
    parser.add_argument(
        "--history", type=lambda s: span(s, int), default=(10, 120), help="initial history, e.g. 10-120"
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--cold", type=int, default=3, help="cold CLI turns measured for comparison")
    parser.add_argument("--before", action="store_true", help="also run WARM_CONVERSATIONS=POOL_SIZE")
    parser.add_argument("--seed", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
