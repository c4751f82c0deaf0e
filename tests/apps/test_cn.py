"""Continue's CLI `cn` (npm `@continuedev/cli`) against the bridge, as an `openai` provider.

The config file is the README's ("Use it with Continue"): a model with `provider: openai`,
`apiBase` and `apiKey`, given with `--config`; `-p` runs headless and `--auto` allows its tools
(without it, headless `cn` offers no tool that writes). It streams.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import NODE_BIN, AppRun, require, run_app, succeeded

pytestmark = pytest.mark.asyncio(loop_scope="module")
CN = NODE_BIN / "cn"
QUIET = {"CONTINUE_CLI_ENABLE_TELEMETRY": "0", "CONTINUE_METRICS_ENABLED": "0"}


def config(live: Live) -> str:
    return (
        "name: Claude bridge\n"
        "version: 1.0.0\n"
        "schema: v1\n"
        "models:\n"
        "  - name: Claude via the bridge\n"
        "    provider: openai\n"
        "    model: gpt-4o\n"
        f"    apiBase: {live.base_url}\n"
        "    apiKey: sk-test\n"
        "    roles: [chat, edit, apply]\n"
    )


async def cn(live: Live, tmp_path: Path, *args: str) -> AppRun:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (tmp_path / "config.yaml").write_text(config(live))
    run = await run_app(
        [require(CN), "--config", tmp_path / "config.yaml", *args],
        tap=live.tap,
        port=live.port,
        home=tmp_path / "home",
        cwd=work,
        env=QUIET,
    )
    succeeded(run, live.tap)
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await cn(live, tmp_path, "-p", "<<say:Hello from cn>>")
    assert run.stdout.strip() == "Hello from cn"
    (sent,) = [x for x in live.tap.exchanges() if "Hello from cn" in x.body.decode()]
    assert sent.path == "/v1/chat/completions" and sent.json()["stream"] is True
    assert sent.status == 200 and sent.streamed


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    """cn's own Write tool creates the file; the tool's result comes back in the final answer."""
    target = tmp_path / "work" / "note.txt"
    args = json.dumps({"filepath": str(target), "content": "written by cn"})
    run = await cn(live, tmp_path, "--auto", "-p", f"<<tool:mcp__c__Write:{args}>>")
    assert target.read_text() == "written by cn"
    assert run.stdout.strip().startswith("after-tool: "), run.stdout
    asked = live.fake.find("<<tool:mcp__c__Write")[0]
    offered = {t["name"]: t for t in asked.body["tools"]}
    assert {"filepath", "content"} <= set(offered["mcp__c__Write"]["input_schema"]["properties"])
