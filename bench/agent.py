"""The agent workload: a large system prompt, 20 tools, long tool-call histories, sent statelessly.

Side by side in one run, against the fake upstream with a fixed latency:

    held       the bridge as it ships: the process that answered the previous turn continues
    replayed   the same bridge with HOLD_TTL=0: every turn replays the whole history
    session    the same turn as a stored session (only the new message is sent)
    cold       a new CLI process per request, fed the history over stream-json (no pool)
    upstream   the fake upstream alone, sent the same conversation

and the cost of changing the system prompt or the tools from one request to the next, on a
pool of 2. Run with `make bench` (after the short-chat tables) or `python -m bench.agent`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench import cli_env, cpu_seconds, start_bridge
from bridge.config import PINNED_CLI
from supervisor.conversation import chain
from supervisor.launch import LaunchProfile, LaunchSettings, build_argv, build_env, prepare_slot_dir
from supervisor.slot import Slot
from supervisor.transport import SubprocessTransport
from tests.fake_upstream import FakeUpstream

HISTORY_LENGTHS = (2, 20, 80, 200)


def system_prompt(tag: str = "") -> str:
    """About 12 KB of agent instructions, as coding agents send them."""
    rules = [
        f"Rule {i}: when you edit a file, keep the surrounding style, explain the change in one sentence, "
        f"and never touch generated code in directory gen{i}/ without being asked to."
        for i in range(80)
    ]
    return f"You are a careful coding agent. {tag}\n" + "\n".join(rules)


def tools(variant: int = 0) -> list[dict[str, Any]]:
    """Twenty functions with small JSON schemas; `variant` changes one description."""
    out = []
    for i in range(20):
        description = f"Tool number {i}: reads or changes project state of kind {i}. Returns JSON."
        if i == 0 and variant:
            description += f" (revision {variant})"
        out.append(
            {
                "type": "function",
                "function": {
                    "name": f"tool_{i}",
                    "description": description,
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
                        "required": ["path"],
                    },
                },
            }
        )
    return out


def history(n: int, tag: str) -> list[dict[str, Any]]:
    """Exactly n (even) messages of steps: user, assistant tool call, tool result, assistant
    answer; a last user / answer pair when n is not a multiple of 4. It ends with an answer."""
    messages: list[dict[str, Any]] = []
    step = 0
    while n - len(messages) >= 4:
        call_id = f"call_{tag.replace('-', '_')}_{step}"
        call = {"name": f"tool_{step % 20}", "arguments": json.dumps({"path": f"{step}.py"})}
        messages += [
            {"role": "user", "content": f"[{tag}] step {step}: look at file {step}.py"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call_id, "type": "function", "function": call}],
            },
            {"role": "tool", "tool_call_id": call_id, "content": f"contents of {step}.py: " + "x = 1\n" * 20},
            {"role": "assistant", "content": f"File {step}.py sets x to 1."},
        ]
        step += 1
    if n - len(messages) == 2:
        messages += [{"role": "user", "content": f"[{tag}] and the rest?"}, {"role": "assistant", "content": "Done."}]
    return messages


def anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "tool":
            result = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
            out.append({"role": "user", "content": [result]})
        elif m.get("tool_calls"):
            fn = m["tool_calls"][0]["function"]
            use = {"type": "tool_use", "id": m["tool_calls"][0]["id"], "name": fn["name"]}
            out.append({"role": "assistant", "content": [{**use, "input": json.loads(fn["arguments"])}]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def stats_ms(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[0] * 1000, ordered[-1] * 1000


async def chat(http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = await http.post("/v1/chat/completions", json=body, headers=headers or {})
    resp.raise_for_status()
    return resp.json()  # type: ignore[no-any-return]


async def stateless_pair(http: httpx.AsyncClient, n: int, tag: str) -> float:
    """The previous turn (untimed), then the measured turn that continues it."""
    earlier = history(n - 2, tag)
    first = [{"role": "system", "content": system_prompt()}, *earlier, {"role": "user", "content": f"[{tag}] next"}]
    answer = (await chat(http, {"model": "gpt-4o", "tools": tools(), "messages": first}))["choices"][0]["message"]
    messages = [*first, {k: v for k, v in answer.items() if v is not None}, {"role": "user", "content": "and then?"}]
    t0 = time.perf_counter()
    await chat(http, {"model": "gpt-4o", "tools": tools(), "messages": messages})
    return time.perf_counter() - t0


async def session_pair(http: httpx.AsyncClient, n: int, tag: str) -> float:
    sid = f"sess_agent_{tag}"
    earlier = history(n - 2, tag)
    messages = [{"role": "system", "content": system_prompt()}, *earlier, {"role": "user", "content": f"[{tag}] next"}]
    headers = {"X-Session-ID": sid}
    await chat(http, {"model": "gpt-4o", "tools": tools(), "messages": messages}, headers)
    t0 = time.perf_counter()
    await chat(
        http,
        {
            "model": "gpt-4o",
            "tools": tools(),
            "messages": [{"role": "system", "content": system_prompt()}, {"role": "user", "content": "and then?"}],
        },
        headers,
    )
    return time.perf_counter() - t0


async def cold_turn(url: str, work: Path, n: int, tag: str) -> float:
    """A new CLI process for the request: start, replay the history, answer (our own protocol)."""
    from bridge.translate.chat_request import to_turn
    from bridge.validation import parse_chat_request

    earlier = history(n - 2, tag)
    messages = [{"role": "system", "content": system_prompt()}, *earlier, {"role": "user", "content": "and then?"}]
    spec = to_turn(parse_chat_request({"model": "gpt-4o", "tools": tools(), "messages": messages}), "sonnet")
    settings = LaunchSettings(
        command=str(PINNED_CLI),
        request_timeout=60,
        workdir=work / "cold",
        base_env=cli_env(url, str(work / "home")),
    )
    slot_id = f"cold{time.monotonic_ns()}"
    t0 = time.perf_counter()
    paths = prepare_slot_dir(settings, slot_id, LaunchProfile())
    argv = build_argv(settings, paths.system_prompt_file, LaunchProfile())
    slot = Slot(
        slot_id, LaunchProfile(), SubprocessTransport(argv, build_env(settings, paths.home, paths.tmp), str(paths.cwd))
    )
    try:
        await slot.start(30)
        loop = asyncio.get_running_loop()
        # keep: the process is closed after the answer, so it is not rewound
        async for _ in slot.run(spec, chain("", spec.history), loop.time() + 60, 60, keep=True):
            pass
        return time.perf_counter() - t0
    finally:
        await slot.close()


async def upstream_turn(http: httpx.AsyncClient, n: int, tag: str) -> float:
    earlier = history(n - 2, tag)
    msgs = anthropic_messages([*earlier, {"role": "user", "content": "and then?"}])
    body = {"model": "claude-sonnet-5-5", "max_tokens": 100, "system": system_prompt(), "messages": msgs}
    t0 = time.perf_counter()
    resp = await http.post("/v1/messages", json=body)
    resp.raise_for_status()
    return time.perf_counter() - t0


async def churn(http: httpx.AsyncClient, kind: str, n: int) -> list[float]:
    """Single-question requests whose system prompt or tools change from one request to the next."""
    samples = []
    for i in range(n + 2):
        if kind.endswith("apart") and i:
            await asyncio.sleep(3.0)  # time for the pool to replace a used process by a blank one
        prompt = system_prompt()
        tool_set = tools()
        if kind == "3 prompts":
            prompt = system_prompt(f"Persona {i % 3}.")
        elif kind == "timestamp":
            prompt = system_prompt(f"Now: 2026-12-01T10:{i // 60:02d}:{i % 60:02d}Z.")
        elif kind.startswith("tools"):
            tool_set = tools(variant=i + 1)
        body = {
            "model": "gpt-4o",
            "tools": tool_set,
            "messages": [{"role": "system", "content": prompt}, {"role": "user", "content": f"churn {kind} {i}"}],
        }
        t0 = time.perf_counter()
        await chat(http, body)
        if i >= 2:  # the first two only warm the pool
            samples.append(time.perf_counter() - t0)
    return samples


async def bridge_cpu(http: httpx.AsyncClient, pid: int, length: int, turns: int) -> tuple[float, float]:
    """The bridge's own CPU per held stateless turn of one agent whose history starts at `length`
    messages (each turn sends it all back, plus the answer and a new question): ms per turn and
    the last body's KB. The CLI's CPU is not counted."""
    tag = f"cpu{length}-{os.getpid()}"
    messages = [{"role": "system", "content": system_prompt()}, *history(length - 2, tag)]
    messages.append({"role": "user", "content": f"[{tag}] next"})
    size = 0.0
    before = 0.0
    for i in range(turns + 2):
        if i == 2:  # the first two turns only put the conversation on its process
            before = cpu_seconds(pid)
        body = {"model": "gpt-4o", "tools": tools(), "messages": messages}
        size = len(json.dumps(body)) / 1024
        answer = (await chat(http, body))["choices"][0]["message"]
        messages += [{k: v for k, v in answer.items() if v is not None}, {"role": "user", "content": f"q{i}"}]
    return (cpu_seconds(pid) - before) * 1000 / turns, size


async def main(latency_ms: int, n: int, churn_n: int) -> None:
    fake = FakeUpstream(latency_ms=latency_ms)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-agent-"))
    (work / "home").mkdir()
    held_proc, held_url = await start_bridge(fake.url, 2, work / "held", {"HOME": str(work / "home")})
    replay_proc, replay_url = await start_bridge(
        fake.url, 2, work / "replayed", {"HOME": str(work / "home"), "HOLD_TTL": "0"}
    )
    rows: dict[int, dict[str, list[float]]] = {}
    try:
        async with (
            httpx.AsyncClient(base_url=held_url, timeout=120) as held,
            httpx.AsyncClient(base_url=replay_url, timeout=120) as replayed,
            httpx.AsyncClient(base_url=fake.url, timeout=60) as upstream,
        ):
            for length in HISTORY_LENGTHS:
                got: dict[str, list[float]] = {k: [] for k in ("held", "replayed", "session", "cold", "upstream")}
                for i in range(n):  # interleaved, so drift on a busy machine hits every path alike
                    tag = f"h{length}-{i}-{os.getpid()}"
                    got["held"].append(await stateless_pair(held, length, tag + "a"))
                    got["replayed"].append(await stateless_pair(replayed, length, tag + "b"))
                    got["session"].append(await session_pair(held, length, tag + "c"))
                    got["cold"].append(await cold_turn(fake.url, work, length, tag + "d"))
                    got["upstream"].append(await upstream_turn(upstream, length, tag + "e"))
                rows[length] = got
            churn_rows = {}
            for kind in ("fixed", "3 prompts", "timestamp", "tools"):
                churn_rows[kind] = await churn(held, kind, churn_n)
            churn_rows["tools, 3 s apart"] = await churn(held, "tools, 3 s apart", max(4, churn_n // 3))
            cpu_rows = {length: await bridge_cpu(held, held_proc.pid, length, 30) for length in (4, 100, 150)}
    finally:
        for proc in (held_proc, replay_proc):
            proc.terminate()
            await proc.wait()
        await fake.stop()

    print(
        f"\n### Agent workload, upstream latency {latency_ms} ms\n\n12 KB system prompt, 20 tools, histories of "
        f"user / tool call / tool result / answer steps; pool of 2; median (min-max) of {n} turns.\n"
    )
    print(
        "| history (messages) | stateless, held | stateless, replayed | session turn | cold process | upstream alone |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for length, got in rows.items():
        cells = [f"{m:.0f} ({lo:.0f}-{hi:.0f})" for m, lo, hi in (stats_ms(got[k]) for k in got)]
        print(f"| {length} | " + " | ".join(cells) + " |")
    short = stats_ms(rows[HISTORY_LENGTHS[0]]["held"])[0]
    long = stats_ms(rows[HISTORY_LENGTHS[-1]]["held"])[0]
    long_session = stats_ms(rows[HISTORY_LENGTHS[-1]]["session"])[0]
    print(
        f"\n- held stateless turn at {HISTORY_LENGTHS[-1]} messages / at {HISTORY_LENGTHS[0]}: {long / short:.2f} "
        f"(target <= 1.3); minus the session turn at {HISTORY_LENGTHS[-1]}: {long - long_session:.1f} ms (target < 25)"
    )
    print(f"\n{churn_n} sequential one-question requests per row, pool of 2, the 12 KB prompt and 20 tools:\n")
    print("| what changes per request | median ms | min-max | over fixed |")
    print("|---|---:|---:|---:|")
    fixed = stats_ms(churn_rows["fixed"])[0]
    for kind, samples in churn_rows.items():
        m, lo, hi = stats_ms(samples)
        print(f"| {kind} | {m:.1f} | {lo:.0f}-{hi:.0f} | {m - fixed:+.1f} |")
    print("\nThe bridge's own CPU per held stateless turn (30 sequential turns of one agent, /proc of the bridge):\n")
    print("| history at start (messages) | body at the end | bridge CPU ms/turn |")
    print("|---:|---:|---:|")
    for length, (ms, kb) in cpu_rows.items():
        print(f"| {length} | {kb:.0f} KB | {ms:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, default=25)
    parser.add_argument("-n", type=int, default=9)
    parser.add_argument("--churn-n", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.latency, args.n, args.churn_n))
