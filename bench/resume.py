"""History that is not warm: replayed line by line, or loaded in one step with `--resume`.

Per history length, against the fake upstream, the time until the answer of one new message:

    replay on a warm process   a started blank process replays the history (user lines with
                               `shouldQuery: false`, each awaited; assistant lines as they are)
    start + replay             a new process is started, then replays (a conversation whose
                               tool set has no process left)
    start with --resume        a new process is started with `--resume <id>` of a session file
                               the bridge wrote into the process's own HOME
                               (~/.claude/projects/<cwd>/<id>.jsonl), then answers

Each answer is checked: the new message asks the fake whether a marker from the first history
line is in the conversation. Run with `python -m bench.resume`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench import cli_env
from bridge.config import PINNED_CLI
from supervisor.conversation import chain
from supervisor.events import Result
from supervisor.launch import LaunchProfile, LaunchSettings, build_argv, build_env, prepare_slot_dir
from supervisor.slot import Slot
from supervisor.transport import SubprocessTransport
from supervisor.turn import Line, TurnSpec

LENGTHS = (10, 60, 120)


def lines(n: int, tag: str) -> list[Line]:
    out: list[Line] = []
    for i in range(n // 2):
        out.append(Line("user", f"[{tag}] question {i} MARK-{tag} " + "context " * 40 if i == 0 else f"question {i}"))
        out.append(Line("assistant", f"answer {i}: " + "words " * 30))
    return out


def transcript(history: list[Line], session: str, cwd: str) -> str:
    """The CLI's session file: one JSON object per message, chained by parentUuid."""
    rows = []
    parent = None
    for line in history:
        this = str(uuid.uuid4())
        content: Any = line.content
        if line.role == "assistant":
            content = [{"type": "text", "text": line.content}] if isinstance(line.content, str) else line.content
            message: dict[str, Any] = {
                "id": f"msg_{this[:8]}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": content,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        else:
            message = {"role": "user", "content": content}
        rows.append(
            {
                "parentUuid": parent,
                "isSidechain": False,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session,
                "version": "2.1.331",
                "type": line.role,
                "message": message,
                "uuid": this,
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        )
        parent = this
    return "".join(json.dumps(r) + "\n" for r in rows)


async def new_slot(
    url: str, work: Path, resume: tuple[str, list[Line]] | None = None, command: Path = PINNED_CLI
) -> Slot:
    settings = LaunchSettings(
        command=str(command), request_timeout=60, workdir=work / "slots", base_env=cli_env(url, str(work / "home"))
    )
    slot_id = f"r{time.monotonic_ns()}"
    paths = prepare_slot_dir(settings, slot_id, LaunchProfile())
    argv = build_argv(settings, paths.system_prompt_file, LaunchProfile())
    if resume is not None:
        session, history = resume
        project = paths.home / ".claude" / "projects" / re.sub(r"[^A-Za-z0-9]", "-", str(paths.cwd))
        project.mkdir(parents=True, exist_ok=True)
        (project / f"{session}.jsonl").write_text(transcript(history, session, str(paths.cwd)))
        argv = [*argv, "--resume", session]
    slot = Slot(
        slot_id, LaunchProfile(), SubprocessTransport(argv, build_env(settings, paths.home, paths.tmp), str(paths.cwd))
    )
    await slot.start(60)
    return slot


async def answer(slot: Slot, history: list[Line], message: str) -> str:
    spec = TurnSpec(model="sonnet", message=message, history=tuple(history))
    loop = asyncio.get_running_loop()
    slot.resume = 0
    text = ""
    async for event in slot.run(spec, chain("", spec.history), loop.time() + 60, 60, keep=True):
        if isinstance(event, Result):
            text = event.text or ""
    return text


async def main(n: int) -> None:
    from tests.fake_upstream import FakeUpstream

    fake = FakeUpstream(latency_ms=25)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="bridge-resume-"))
    (work / "home").mkdir()
    rows: dict[int, dict[str, list[float]]] = {}
    ok: dict[str, set[str]] = {}
    try:
        for length in LENGTHS:
            got: dict[str, list[float]] = {
                "replay on a warm process": [],
                "start + replay": [],
                "start with --resume": [],
            }
            for i in range(n):
                tag = f"h{length}x{i}"
                history = lines(length, tag)
                ask = f"<<has:MARK-{tag}>> next {i}"
                warm = await new_slot(fake.url, work)
                try:
                    t0 = time.perf_counter()
                    said = await answer(warm, history, ask)
                    got["replay on a warm process"].append((time.perf_counter() - t0) * 1000)
                    ok.setdefault("replay on a warm process", set()).add(said)
                finally:
                    await warm.close()
                t0 = time.perf_counter()
                cold = await new_slot(fake.url, work)
                try:
                    said = await answer(cold, history, ask)
                    got["start + replay"].append((time.perf_counter() - t0) * 1000)
                    ok.setdefault("start + replay", set()).add(said)
                finally:
                    await cold.close()
                t0 = time.perf_counter()
                resumed = await new_slot(fake.url, work, (str(uuid.uuid4()), history))
                try:
                    said = await answer(resumed, [], ask)
                    got["start with --resume"].append((time.perf_counter() - t0) * 1000)
                    ok.setdefault("start with --resume", set()).add(said)
                finally:
                    await resumed.close()
            rows[length] = got
    finally:
        await fake.stop()
    print(f"\n### History that is not warm (upstream 25 ms, median of {n}, ms until the answer)\n")
    print("| history (messages) | " + " | ".join(next(iter(rows.values()))) + " |")
    print("|---:|" + "---:|" * 3)
    for length, got in rows.items():
        print(f"| {length} | " + " | ".join(f"{statistics.median(v):.0f}" for v in got.values()) + " |")
    print("\nanswers (the history's marker found: yes): " + "; ".join(f"{k}: {sorted(v)}" for k, v in ok.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3)
    asyncio.run(main(parser.parse_args().n))
