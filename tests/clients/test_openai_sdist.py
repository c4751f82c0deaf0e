"""openai-python's own generated API tests, run unmodified against a live bridge.

The sdist of the pinned `openai` (requirements-dev.txt) ships `tests/api_resources`, which
Stainless generates from OpenAI's OpenAPI document and runs against a mock server given by
TEST_API_BASE_URL. Pointed at the bridge instead, every case sends a request shape the
pinned client really produces and checks the answer with the client's own types, strict and
loose, sync and async (httpx2 and aiohttp).

Selected: the model-agnostic cases of chat completions, models and responses, meaning the
ones any model behind an OpenAI-compatible server could answer: creating a chat completion
(plain, raw, streamed, through the streaming wrapper) and listing or retrieving a model. The
cases ask for the placeholder model `gpt-6-astra`, which the live bridge offers through
MODEL_MAP, as an operator would. Every other case of those files is excluded by one rule of
EXCLUDED, which says why; `test_every_case_is_selected_or_excluded` makes a new case in a
new version of the sdist fail until it is classified.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import pytest_asyncio

from tests.clients.conftest import base_url
from tests.clients.openai_sdist import sdist_tree
from tests.conftest import Bridge

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAT = "tests/api_resources/chat/test_completions.py"
MESSAGES = "tests/api_resources/chat/completions/test_messages.py"
MODELS = "tests/api_resources/test_models.py"
RESPONSES = "tests/api_resources/test_responses.py"
INPUT_ITEMS = "tests/api_resources/responses/test_input_items.py"
INPUT_TOKENS = "tests/api_resources/responses/test_input_tokens.py"
FILES = (CHAT, MESSAGES, MODELS, RESPONSES, INPUT_ITEMS, INPUT_TOKENS)

CREATE = [
    f"test_{kind}_create_overload_{n}" for n in (1, 2) for kind in ("method", "raw_response", "streaming_response")
]
SELECTED = {
    CHAT: ("TestCompletions", "TestAsyncCompletions", CREATE),
    MODELS: (
        "TestModels",
        "TestAsyncModels",
        [
            f"test_{kind}_{op}"
            for op in ("list", "retrieve")
            for kind in ("method", "raw_response", "streaming_response")
        ],
    ),
}
SYNC_VARIANTS, ASYNC_VARIANTS = ("loose", "strict"), ("loose", "strict", "aiohttp")

# (file, function-name pattern, why the cases are not model-agnostic); the first match applies
EXCLUDED: list[tuple[str, str, str]] = [
    (
        "*",
        r"test_path_params_",
        "never send a request: the client itself raises on an empty id, so they pass against any server or none",
    ),
    (
        CHAT,
        r"_with_all_params_",
        "send every parameter at once, among them ones Claude cannot honour and the bridge refuses with 400 "
        "by design (audio output, logprobs, predicted outputs, web_search_options, moderation)",
    ),
    (
        CHAT,
        r"_(retrieve|update|list|list_with_all_params|delete)$",
        "stored chat completions (OpenAI keeps completions sent with store: true): a resource of OpenAI's; "
        "the bridge keeps none (README: `store` is not applied) and the ids are OpenAI's",
    ),
    (MESSAGES, r"_list", "the messages of a stored chat completion: OpenAI's storage, as above"),
    (MODELS, r"_delete$", "deleting a fine-tuned model (`ft:gpt-4o-mini:...`): OpenAI's fine-tuning resource"),
    (
        RESPONSES,
        r"_create_(overload|with_all_params)",
        "`responses.create()` with no model and no input (which OpenAI can only serve from a stored prompt "
        "or conversation), or with every parameter (background, conversation, prompt templates, "
        "context_management, moderation): OpenAI-side state and features",
    ),
    (
        RESPONSES,
        r"_(retrieve|delete|cancel)",
        "read, delete or cancel response ids that exist only in OpenAI's store (the bridge answers "
        "404 response_not_found, as OpenAI does for an unknown id); cancel is for background responses",
    ),
    (RESPONSES, r"_compact", "OpenAI's compaction endpoint (/responses/compact), not offered"),
    (INPUT_ITEMS, r"_list", "the input items of a response id that exists only in OpenAI's store"),
    (INPUT_TOKENS, r"_count", "OpenAI's token-counting endpoint (/responses/input_tokens), not offered"),
]


def selected_ids() -> list[str]:
    ids = []
    for path, (sync_cls, async_cls, functions) in SELECTED.items():
        for cls, variants in ((sync_cls, SYNC_VARIANTS), (async_cls, ASYNC_VARIANTS)):
            ids += [f"{path}::{cls}::{fn}[{v}]" for fn in functions for v in variants]
    return ids


async def _pytest(tree: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",  # the sdist's own addopts need pytest-xdist
        *args,
        cwd=tree,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    return proc.returncode or 0, out.decode(errors="replace")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tree() -> Path:
    return await asyncio.to_thread(sdist_tree)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outcomes(live: Bridge, tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """{node id: (outcome, failure message)} of one run of the selected cases against the bridge."""
    report = tmp_path_factory.mktemp("sdist") / "junit.xml"
    functions = sorted({case.split("[")[0] for case in selected_ids()})  # each runs all its variants
    code, out = await _pytest(
        tree,
        "-q",
        f"--junitxml={report}",
        *functions,
        env={"TEST_API_BASE_URL": base_url(live)},
    )
    assert report.exists(), f"the sdist's pytest wrote no report (exit {code}):\n{out[-3000:]}"
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module, cls = case.attrib["classname"].rsplit(".", 1)
        node = f"{module.replace('.', '/')}.py::{cls}::{case.attrib['name']}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        if problem is not None:
            results[node] = ("failed", problem.attrib.get("message", "") + "\n" + (problem.text or "")[-1500:])
        elif skipped is not None:
            results[node] = ("skipped", skipped.attrib.get("message", ""))
        else:
            results[node] = ("passed", "")
    return results


async def test_the_run_is_exactly_the_selection(outcomes: dict[str, tuple[str, str]]) -> None:
    """`-k` matched the selected functions and nothing else (e.g. no `_with_all_params` case)."""
    assert sorted(outcomes) == sorted(selected_ids())
    assert len(outcomes) == 60


@pytest.mark.parametrize("case", selected_ids())
async def test_case(outcomes: dict[str, tuple[str, str]], case: str) -> None:
    outcome, message = outcomes[case]
    assert outcome == "passed", message


async def test_every_case_is_selected_or_excluded(tree: Path) -> None:
    code, out = await _pytest(tree, "--collect-only", "-q", *FILES)
    assert code == 0, out[-3000:]
    collected = {line.split("[")[0] for line in out.splitlines() if line.startswith("tests/") and "::" in line}
    chosen = {c.split("[")[0] for c in selected_ids()}
    unclassified = []
    for node in sorted(collected - chosen):
        path, _, name = node.split("::")
        if not any(where in ("*", path) and re.search(pattern, name) for where, pattern, _ in EXCLUDED):
            unclassified.append(node)
    assert not unclassified, "cases that are neither selected nor excluded:\n" + "\n".join(unclassified)
    assert not chosen - collected, f"selected cases the sdist no longer has: {sorted(chosen - collected)}"
