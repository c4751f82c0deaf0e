"""Simon Willison's `llm` (PyPI `llm`) against the bridge: a model from extra-openai-models.yaml.

The configuration is the README's ("Use it with llm"): the bridge as an extra OpenAI model in
LLM_USER_PATH, its key stored with `llm keys set` (keys.json). `llm` streams by default; a tool
loop is a Python function given with `--functions`, which llm runs and sends back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import VENVS, AppRun, require, run_app, succeeded

pytestmark = pytest.mark.asyncio(loop_scope="module")
LLM = VENVS / "llm" / "bin" / "llm"
FUNCTIONS = '''
from pathlib import Path


def write_note(path: str, text: str) -> str:
    """Write text to the file at path."""
    Path(path).write_text(text)
    return f"wrote {len(text)} characters to {path}"
'''


async def llm(live: Live, tmp_path: Path, *args: str) -> AppRun:
    user = tmp_path / "llm-user"
    user.mkdir()
    (user / "extra-openai-models.yaml").write_text(
        "- model_id: claude-bridge\n"
        "  model_name: gpt-4o\n"
        f"  api_base: {live.base_url}\n"
        "  api_key_name: bridge\n"
        "  supports_tools: true\n"
        "  supports_schema: true\n"
    )
    (user / "keys.json").write_text(json.dumps({"bridge": "sk-test"}))
    run = await run_app(
        [require(LLM), "-m", "claude-bridge", *args],
        tap=live.tap,
        port=live.port,
        home=tmp_path / "home",
        cwd=tmp_path,
        env={"LLM_USER_PATH": str(user)},
    )
    succeeded(run, live.tap)
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await llm(live, tmp_path, "<<say:Hello from llm>>")
    assert run.stdout.strip() == "Hello from llm"
    (sent,) = [x for x in live.tap.exchanges() if "Hello from llm" in x.body.decode()]
    assert sent.path == "/v1/chat/completions" and sent.json()["stream"] is True
    assert sent.status == 200 and sent.streamed


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(FUNCTIONS)
    target = tmp_path / "note.txt"
    args = json.dumps({"path": str(target), "text": "written by llm's tool"})
    run = await llm(live, tmp_path, "--functions", str(tmp_path / "tools.py"), f"<<tool:mcp__c__write_note:{args}>>")
    assert target.read_text() == "written by llm's tool"
    assert f"after-tool: wrote 21 characters to {target}" in run.stdout
    asked = live.fake.find("<<tool:mcp__c__write_note")[0]
    offered = {t["name"]: t for t in asked.body["tools"]}
    assert set(offered["mcp__c__write_note"]["input_schema"]["properties"]) == {"path", "text"}
