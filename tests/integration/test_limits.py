"""What one request may ask of the pool: messages, replayed bytes, choices, and time.

A request never holds a CLI process longer than REQUEST_TIMEOUT: the replay of its earlier
messages and the control requests before it (set_model, apply_flag_settings) run against the
same deadline as the answer, and a process that overran it is killed and replaced.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_DIR, MakeBridge
from tests.openai_errors import assert_openai_error


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


async def _gone(pid: int, within: float) -> bool:
    for _ in range(int(within / 0.05)):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


def _conversation(count: int, size: int = 1) -> list[dict[str, Any]]:
    """`count` earlier messages of `size` characters, then the new user message."""
    roles = ("user", "assistant")
    earlier = [{"role": roles[i % 2], "content": "x" * size} for i in range(count)]
    return [*earlier, {"role": "user", "content": "now <<say:done>>"}]


async def test_n_that_can_never_fit_is_a_400_that_says_why(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1", MAX_QUEUE="2")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "<<say:hi>>"}]}
    async with bridge.http() as http:
        refused = await http.post("/v1/chat/completions", json={**body, "n": 4})
        fits = await http.post("/v1/chat/completions", json={**body, "n": 3})
    assert_openai_error(refused, 400, param="n", code="n_above_capacity")
    assert "POOL_SIZE + MAX_QUEUE = 3" in refused.json()["error"]["message"]
    assert "retry-after" not in refused.headers
    assert fits.status_code == 200, fits.text
    assert [c["message"]["content"] for c in fits.json()["choices"]] == ["hi", "hi", "hi"]
    assert len(bridge.fake.messages_requests()) == 3, "the refused request sent nothing upstream"


async def test_the_message_cap_names_its_setting_on_both_apis(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1", MAX_MESSAGES="5", MAX_HISTORY_MESSAGES="4")
    async with bridge.http() as http:
        over = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": _conversation(5)})
        at = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": _conversation(4)})
        items = [{"role": m["role"], "content": m["content"]} for m in _conversation(5)]
        over_responses = await http.post("/v1/responses", json={"model": "gpt-4o", "input": items})
    assert_openai_error(over, 400, param="messages", code="array_above_max_length")
    assert "maximum length 5 (MAX_MESSAGES on this server)" in over.json()["error"]["message"]
    assert at.status_code == 200, at.text
    assert_openai_error(over_responses, 400, param="input", code="array_above_max_length")


async def test_the_replay_cap_counts_earlier_messages_only(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge(POOL_SIZE="1", MAX_REPLAY_BYTES="1000")
    async with bridge.http() as http:
        over = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": _conversation(2, 501)})
        at = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": _conversation(2, 500)})
        big_new = [{"role": "user", "content": "y" * 5000 + " <<say:ok>>"}]
        new_only = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": big_new})
    assert_openai_error(over, 400, param="messages", code="replay_too_large")
    assert "MAX_REPLAY_BYTES" in over.json()["error"]["message"]
    assert at.status_code == 200 and new_only.status_code == 200


async def test_a_replay_longer_than_the_deadline_ends_at_the_deadline(make_bridge: MakeBridge) -> None:
    # 4,000 replayed lines take the CLI 14 s or more; the turn may take 1 s.
    bridge = await make_bridge(POOL_SIZE="1", REQUEST_TIMEOUT="1", MAX_MESSAGES="10000", MAX_RETRIES="0")
    pid = bridge.pool.pids()[0]
    started = time.monotonic()
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": _conversation(4000)})
    elapsed = time.monotonic() - started
    assert_openai_error(resp, 504, code="timeout")
    assert elapsed < 1 + 4, f"the request held its process {elapsed:.1f}s"
    assert await _gone(pid, 5), "the process that overran the deadline was killed"
    assert not bridge.fake.messages_requests(), "the replay never reached the new message"
    assert await bridge.pool.wait_ready(30), "and it was replaced"


def _standin(tmp_path: Path, ignore: str) -> str:
    """A CLI that starts like the real one, then never answers the control request `ignore`."""
    script = tmp_path / f"claude-ignoring-{ignore}"
    script.write_text(
        f'#!/bin/sh\nSTANDIN_IGNORE={ignore} exec {sys.executable} {ROOT_DIR / "tests" / "standin_cli.py"} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.mark.parametrize(
    ("ignored", "extra"),
    [
        ("set_model", {"model": "gpt-4o-mini"}),  # haiku: the slot must switch from sonnet
        ("apply_flag_settings", {"model": "gpt-4o", "reasoning_effort": "high"}),
    ],
)
async def test_control_requests_count_against_the_deadline(
    make_bridge: MakeBridge, tmp_path: Path, ignored: str, extra: dict[str, Any]
) -> None:
    # A hand-written stand-in CLI: the real one always answers these control requests.
    bridge = await make_bridge(POOL_SIZE="1", REQUEST_TIMEOUT="1", CLAUDE_COMMAND=_standin(tmp_path, ignored))
    pid = bridge.pool.pids()[0]
    started = time.monotonic()
    async with bridge.http() as http:
        resp = await http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], **extra})
    elapsed = time.monotonic() - started
    assert_openai_error(resp, 504, code="timeout")  # not retried: a timeout is never retried
    assert elapsed < 1 + 4, f"the request held its process {elapsed:.1f}s"
    assert await _gone(pid, 5)
