"""Cline CLI (npm `cline`) against the bridge, as an OpenAI-compatible provider.

Configured as the README says ("Use it with Cline"): `cline auth -p openai -b BASE_URL -k KEY
-m MODEL` once, then `cline "prompt"` runs headless (act mode, tools auto-approved) and streams.
Cline leaves a hub daemon behind (started with setsid); the namespace's init ends it by pid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import NODE_BIN, AppRun, require, run_app, succeeded

pytestmark = pytest.mark.asyncio(loop_scope="module")
CLINE = NODE_BIN / "cline"
QUIET = {"CLINE_NO_AUTO_UPDATE": "1"}


async def cline(live: Live, tmp_path: Path, prompt: str) -> AppRun:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    home = tmp_path / "home"
    settings = home / ".cline" / "data" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "global-settings.json").write_text(json.dumps({"telemetryOptOut": True, "autoUpdateEnabled": False}))
    auth = await run_app(
        [require(CLINE), "auth", "-p", "openai", "-k", "sk-test", "-m", "gpt-4o", "-b", live.base_url],
        tap=live.tap,
        port=live.port,
        home=home,
        cwd=work,
        env=QUIET,
    )
    assert auth.returncode == 0, auth.output()
    run = await run_app([CLINE, prompt], tap=live.tap, port=live.port, home=home, cwd=work, env=QUIET)
    succeeded(run, live.tap)
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await cline(live, tmp_path, "<<say:Hello from cline>>")
    assert run.stdout.strip() == "Hello from cline"
    (sent,) = [x for x in live.tap.exchanges() if "Hello from cline" in x.body.decode()]
    assert sent.path == "/v1/chat/completions" and sent.json()["stream"] is True
    assert sent.status == 200 and sent.streamed


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    """Cline's own shell tool (run_commands) writes the file; the command's output comes back."""
    args = json.dumps({"commands": ["echo written by cline > note.txt && cat note.txt"]})
    run = await cline(live, tmp_path, f"<<tool:mcp__c__run_commands:{args}>>")
    assert (tmp_path / "work" / "note.txt").read_text() == "written by cline\n"
    asked = live.fake.find("<<tool:mcp__c__run_commands")[0]
    offered = {t["name"]: t for t in asked.body["tools"]}
    assert offered["mcp__c__run_commands"]["input_schema"]["required"] == ["commands"]
    # The fake answers "after-tool: <the result's text>" only to a tool_result block.
    final = run.stdout[run.stdout.index("after-tool: ") :]
    assert "written by cline" in final, run.stdout
