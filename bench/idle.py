"""What an idle warm CLI process costs, and whether it survives being parked (SIGSTOP/SIGCONT).

One process against the fake upstream: a turn with client functions (so the bridge's MCP server
is connected over the control channel) that is kept, then CPU (utime + stime of the process
and its children, from /proc) over `--seconds` idle, then the same while stopped, then a
continue and a second turn in the same conversation with the same functions. Prints ms of CPU
per second idle and parked, RSS/PSS, and whether the second turn worked. Run with
`python -m bench.idle` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.bench import cli_env
from bridge.config import PINNED_CLI
from bridge.translate.chat_request import to_turn
from bridge.validation import parse_chat_request
from supervisor.conversation import chain
from supervisor.events import Result
from supervisor.launch import LaunchProfile, LaunchSettings, build_argv, build_env, prepare_slot_dir
from supervisor.slot import Slot
from supervisor.transport import SubprocessTransport
from supervisor.turn import Line
from tests.fake_upstream import FakeUpstream

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def memory_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        pss = next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    except (OSError, StopIteration):
        pss = 0
    return rss / 1024, pss / 1024


def body(messages: list[dict[str, object]]) -> dict[str, object]:
    tool = {"type": "function", "function": {"name": "look", "parameters": {"type": "object", "properties": {}}}}
    return {"model": "gpt-4o", "tools": [tool], "messages": messages}


async def measure(seconds: float) -> dict[str, float | bool | str]:
    fake = FakeUpstream(latency_ms=20)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-idle-"))
    (work / "home").mkdir()
    settings = LaunchSettings(
        command=str(PINNED_CLI),
        request_timeout=60,
        workdir=work / "slots",
        base_env=cli_env(fake.url, str(work / "home")),
    )
    paths = prepare_slot_dir(settings, "idle", LaunchProfile())
    argv = build_argv(settings, paths.system_prompt_file, LaunchProfile())
    slot = Slot(
        "idle", LaunchProfile(), SubprocessTransport(argv, build_env(settings, paths.home, paths.tmp), str(paths.cwd))
    )
    out: dict[str, float | bool | str] = {}
    loop = asyncio.get_running_loop()
    try:
        await slot.start(60)
        assert slot.pid is not None
        messages: list[dict[str, object]] = [{"role": "user", "content": "<<say:first answer>>"}]

        async def turn(text: str) -> tuple[float, str]:
            """The next user message on the held conversation: ms, and the answer."""
            spec = to_turn(parse_chat_request(body(messages)), "sonnet")
            slot.resume = len(spec.history)
            t1 = time.perf_counter()
            answer = ""
            async for event in slot.run(spec, chain("", spec.history), loop.time() + 60, 60, keep=True):
                if isinstance(event, Result):
                    answer = event.text or ""
            elapsed = (time.perf_counter() - t1) * 1000
            slot.commit(Line("assistant", answer))
            messages.extend([{"role": "assistant", "content": answer}, {"role": "user", "content": text}])
            return elapsed, answer

        await turn("<<say:second>>")
        out["rss_mb"], out["pss_mb"] = memory_mb(slot.pid)
        await asyncio.sleep(2)
        c0, t0 = cpu_seconds(slot.pid), time.monotonic()
        await asyncio.sleep(seconds)
        out["idle_ms_per_s"] = (cpu_seconds(slot.pid) - c0) * 1000 / (time.monotonic() - t0)
        out["turn_after_idle_ms"], _ = await turn("<<has:first answer>>")
        await asyncio.sleep(2)
        os.killpg(slot.pid, signal.SIGSTOP)
        c0, t0 = cpu_seconds(slot.pid), time.monotonic()
        await asyncio.sleep(seconds)
        out["parked_ms_per_s"] = (cpu_seconds(slot.pid) - c0) * 1000 / (time.monotonic() - t0)
        os.killpg(slot.pid, signal.SIGCONT)
        out["turn_after_continue_ms"], out["answer_after_continue"] = await turn("<<say:done>>")
        last = fake.requests[-1].body
        out["tools_offered_after_continue"] = any(t.get("name") == "mcp__c__look" for t in last.get("tools", []))
        out["upstream_requests"] = len(fake.requests)
    finally:
        await slot.close()
        await fake.stop()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(asyncio.run(measure(args.seconds)))
