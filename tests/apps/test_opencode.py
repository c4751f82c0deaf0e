"""opencode (npm `opencode-ai`) against the bridge, through `@ai-sdk/openai-compatible`.

The opencode.json is the README's ("Use it with opencode"): a provider with
`"npm": "@ai-sdk/openai-compatible"`, `options.baseURL`/`apiKey` and the model listed under
`models`. `opencode run` is headless and streams. opencode sends its own `x-session-id: ses_…`
on every request, and its history in full: the model must see exactly what it sent (no stored
history in front, not even its own title-generation exchange).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import NODE_BIN, AppRun, require, run_app, succeeded
from tests.fake_upstream import said

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPENCODE = NODE_BIN / "opencode"
QUIET = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
}


def config(live: Live) -> dict[str, object]:
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "bridge": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Claude via the bridge",
                "options": {"baseURL": live.base_url, "apiKey": "sk-test"},
                "models": {"gpt-4o": {"name": "gpt-4o (Claude)"}},
            }
        },
        "model": "bridge/gpt-4o",
        "autoupdate": False,
        "share": "disabled",
    }


async def opencode(live: Live, tmp_path: Path, prompt: str) -> AppRun:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "opencode.json").write_text(json.dumps(config(live), indent=2))
    run = await run_app(
        # `opencode run` joins its words with spaces and quotes a word that holds one: the prompt
        # goes word by word, so that the model gets it as typed.
        [require(OPENCODE), "run", *prompt.split(" ")],
        tap=live.tap,
        port=live.port,
        home=tmp_path / "home",
        cwd=work,
        env=QUIET,
    )
    succeeded(run, live.tap)
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await opencode(live, tmp_path, "<<say:Hello from opencode>>")
    assert run.stdout.strip().endswith("Hello from opencode"), run.stdout
    sent = [x for x in live.tap.exchanges() if "Hello from opencode" in x.body.decode()]
    asked = next(x for x in sent if "title" not in json.dumps(x.json()["messages"][0]))
    assert asked.path == "/v1/chat/completions" and asked.json()["stream"] is True
    assert asked.status == 200 and asked.streamed
    assert asked.headers["x-session-id"].startswith("ses_")
    # What the model saw is what opencode sent: one user message, no title exchange before it.
    (upstream,) = live.fake.find("<<say:Hello from opencode>>")[-1:]
    users = [said(m["content"]) for m in upstream.messages if m["role"] == "user"]
    assert users == ["<<say:Hello from opencode>>"], users


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    """opencode's own write tool creates the file; the tool's result comes back in the answer."""
    target = tmp_path / "work" / "note.txt"
    args = json.dumps({"filePath": str(target), "content": "written by opencode"}, separators=(",", ":"))
    run = await opencode(live, tmp_path, f"<<tool:mcp__c__write:{args}>>")
    assert target.read_text() == "written by opencode"
    assert "after-tool: " in run.stdout, run.output()
    offered = {t["name"]: t for t in live.fake.find("<<tool:mcp__c__write")[-1].body["tools"]}
    assert offered["mcp__c__write"]["input_schema"]["required"] == ["content", "filePath"]
