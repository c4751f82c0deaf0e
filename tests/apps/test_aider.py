"""aider (PyPI `aider-chat`) against the bridge, as an OpenAI-compatible endpoint.

The flags are the README's ("Use it with agent apps"). aider has no function tools: it writes
files by applying the edit blocks of the model's answer (for gpt-4o its `diff` format: a file
name and a SEARCH/REPLACE block; an empty SEARCH creates the file). Its loop is its test command
(`--auto-test`): the output of a failing run goes back to the model, whose answer aider prints.
It streams by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import VENVS, AppRun, require, run_app, succeeded

pytestmark = pytest.mark.asyncio(loop_scope="module")
AIDER = VENVS / "aider" / "bin" / "aider"


def chunks(*parts: str) -> str:
    """A `<<chunks:...>>` directive whose JSON hides `<` and `>` (edit blocks are full of them)."""
    return "<<chunks:" + json.dumps(list(parts)).replace("<", "\\u003c").replace(">", "\\u003e") + ">>"


async def aider(live: Live, tmp_path: Path, message: str, *args: str) -> AppRun:
    work = tmp_path / "repo"
    work.mkdir(exist_ok=True)
    run = await run_app(
        [
            require(AIDER),
            "--model",
            "openai/gpt-4o",
            "--openai-api-base",
            live.base_url,
            "--openai-api-key",
            "sk-test",
            "--yes-always",
            "--no-check-update",
            "--no-analytics",
            "--no-show-model-warnings",
            "--no-git",
            "--no-pretty",
            "--no-fancy-input",
            "--message",
            message,
            *args,
        ],
        tap=live.tap,
        port=live.port,
        home=tmp_path / "home",
        cwd=work,
        # litellm's model price list comes with it; without this it fetches a newer one first.
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    succeeded(run, live.tap)
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await aider(live, tmp_path, "<<say:Hello from aider>>")
    assert "Hello from aider" in run.stdout
    (sent,) = [x for x in live.tap.exchanges() if "Hello from aider" in x.body.decode()]
    assert sent.path == "/v1/chat/completions" and sent.json()["stream"] is True
    assert sent.status == 200 and sent.streamed


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    """aider writes the model's edit to disk, runs its test command on it (`--auto-test`), sends the
    failing output back, and prints the model's answer to that: a round trip through aider's own
    tools. The file holds the directive the fake upstream answers the second time."""
    edit = (
        "I'll create it.\n\nnote.txt\n```\n<<<<<<< SEARCH\n=======\n"
        "<<say:Final answer from aider>>\n>>>>>>> REPLACE\n```\n"
    )
    pieces = (edit[i : i + 12] for i in range(0, len(edit), 12))
    live.tap.clear()
    run = await aider(
        live, tmp_path, "Create note.txt. " + chunks(*pieces), "--auto-test", "--test-cmd", "cat note.txt; exit 1"
    )
    assert (tmp_path / "repo" / "note.txt").read_text() == "<<say:Final answer from aider>>\n"
    assert "Applied edit to note.txt" in run.stdout
    assert "Added 1 line of output to the chat.\nFinal answer from aider\n" in run.stdout, run.stdout[-2000:]
    # The test command's output went back as the newest user message, once: two streamed requests.
    assert len(live.fake.find("<<say:Final answer from aider>>")) == 1
    sent = [x for x in live.tap.exchanges() if x.path == "/v1/chat/completions"]
    assert len(sent) == 2 and all(x.streamed for x in sent)
