"""aider (PyPI `aider-chat`) against the bridge, as an OpenAI-compatible endpoint.

The flags are the README's ("Use it with aider"). aider has no function tools: it writes files
by applying the edit blocks of the model's answer (for gpt-4o its `diff` format: a file name and
a SEARCH/REPLACE block; an empty SEARCH creates the file), so its tool loop is the model's answer written to disk by
aider, and the answer's words coming back on its output. It streams by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import VENVS, AppRun, require, run_app

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
    )
    assert run.returncode == 0, run.output() + "\n" + "\n".join(x.brief() for x in live.tap.exchanges()[-4:])
    return run


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await aider(live, tmp_path, "<<say:Hello from aider>>")
    assert "Hello from aider" in run.stdout
    (sent,) = [x for x in live.tap.exchanges() if "Hello from aider" in x.body.decode()]
    assert sent.path == "/v1/chat/completions" and sent.json()["stream"] is True
    assert sent.status == 200 and sent.streamed


async def test_edit_written(live: Live, tmp_path: Path) -> None:
    """The model's edit block is applied by aider: the file exists with the new content."""
    edit = "I'll create it.\n\nnote.txt\n```\n<<<<<<< SEARCH\n=======\nwritten by aider\n>>>>>>> REPLACE\n```\n"
    run = await aider(
        live, tmp_path, "Create note.txt. " + chunks(*(edit[i : i + 12] for i in range(0, len(edit), 12)))
    )
    assert (tmp_path / "repo" / "note.txt").read_text() == "written by aider\n"
    assert "I'll create it." in run.stdout and "Applied edit to note.txt" in run.stdout
