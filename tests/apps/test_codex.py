"""OpenAI's Codex CLI (npm `@openai/codex`) against the bridge: `codex exec`, Responses API, streamed.

The provider is the README's ("Use it with Codex CLI"): a `[model_providers.bridge]` table in
the config.toml under CODEX_HOME, `wire_api = "responses"`, the key in the environment variable
it names. Codex sends `store: false`, `include: ["reasoning.encrypted_content"]`,
`client_metadata`, namespace tools and a `web_search` tool on every request: the bridge takes
them (see "The Responses API" in the README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apps.conftest import Live
from tests.apps.harness import NODE_BIN, AppRun, Exchange, require, run_app, succeeded

pytestmark = pytest.mark.asyncio(loop_scope="module")
CODEX = NODE_BIN / "codex"
# No process keeps a conversation between turns: each of Codex's stateless requests is replayed
# into a process, so the thinking on a later turn can only come from what Codex sent back.
BRIDGE_ENV = {"HOLD_TTL": "0"}
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


def config(live: Live) -> str:
    return (
        'model = "gpt-4o"\n'
        'model_provider = "bridge"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        "[analytics]\n"
        "enabled = false\n"
        "\n"
        "[model_providers.bridge]\n"
        'name = "Claude via the bridge"\n'
        f'base_url = "{live.base_url}"\n'
        'env_key = "BRIDGE_API_KEY"\n'
        'wire_api = "responses"\n'
    )


async def codex(live: Live, tmp_path: Path, *args: str) -> AppRun:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(config(live))
    run = await run_app(
        [require(CODEX), "exec", "--skip-git-repo-check", *args],
        tap=live.tap,
        port=live.port,
        home=tmp_path / "home",
        cwd=work,
        env={"CODEX_HOME": str(codex_home), "BRIDGE_API_KEY": "sk-test"},
    )
    succeeded(run, live.tap)
    return run


def sent_with(live: Live, marker: str) -> list[Exchange]:
    return [x for x in live.tap.exchanges() if x.path == "/v1/responses" and marker in x.body.decode()]


async def test_plain_answer(live: Live, tmp_path: Path) -> None:
    run = await codex(live, tmp_path, "<<say:Hello from codex>>")
    assert run.stdout.strip() == "Hello from codex"
    (sent,) = sent_with(live, "Hello from codex")
    body = sent.json()
    assert body["stream"] is True and body["store"] is False and "client_metadata" in body
    assert sent.status == 200 and sent.streamed


async def test_tool_loop(live: Live, tmp_path: Path) -> None:
    """Codex's own shell tool (exec_command) writes the file in its sandbox; the answer comes back."""
    args = json.dumps({"cmd": "echo written by codex > note.txt && cat note.txt"})
    run = await codex(live, tmp_path, "--sandbox", "workspace-write", f"<<tool:mcp__c__exec_command:{args}>>")
    assert (tmp_path / "work" / "note.txt").read_text() == "written by codex\n"
    assert run.stdout.strip().startswith("after-tool: ") and "written by codex" in run.stdout
    first, second = sent_with(live, "<<tool:mcp__c__exec_command")
    assert [x["type"] for x in second.json()["input"] if x["type"].startswith("function_call")] == [
        "function_call",
        "function_call_output",
    ]
    assert first.streamed and second.streamed
    offered = {t["name"]: t for t in live.fake.find("<<tool:mcp__c__exec_command")[0].body["tools"]}
    assert "cmd" in offered["mcp__c__exec_command"]["input_schema"]["required"]


async def test_output_schema(live: Live, tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(CITY))
    value = {"city": "Rome", "celsius": 12}
    run = await codex(
        live,
        tmp_path,
        "--output-schema",
        str(tmp_path / "schema.json"),
        f"<<tool:StructuredOutput:{json.dumps(value)}>>",
    )
    assert json.loads(run.stdout) == value
    (sent,) = sent_with(live, "<<tool:StructuredOutput")
    assert sent.json()["text"]["format"]["schema"] == CITY


REASONING = ("-c", 'model_reasoning_effort="medium"', "-c", 'model_reasoning_summary="auto"')


async def test_reasoning_round_trip(live: Live, tmp_path: Path) -> None:
    """The model thinks and calls a tool; the next request (stateless, store: false) carries the
    sealed reasoning back in `encrypted_content`, and the upstream gets the signed thinking in front
    of the call. A second turn sends it back again."""
    args = json.dumps({"cmd": "echo thought > thought.txt"})
    run = await codex(
        live,
        tmp_path,
        "--sandbox",
        "workspace-write",
        *REASONING,
        f"<<think:I will write the file>> <<tool:mcp__c__exec_command:{args}>>",
    )
    assert (tmp_path / "work" / "thought.txt").read_text() == "thought\n"
    assert "I will write the file" in run.output() and "after-tool: " in run.stdout
    first, second = sent_with(live, "<<think:I will write the file>>")
    assert first.json()["include"] == ["reasoning.encrypted_content"] and first.json()["store"] is False
    sealed = [x["encrypted_content"] for x in second.json()["input"] if x["type"] == "reasoning"]
    assert any(sealed), second.brief()
    upstream = live.fake.find("<<think:I will write the file>>")
    after_tool = [r for r in live.fake.messages_requests() if r not in upstream and r.started > upstream[0].started]
    assistant = next(m for m in reversed(after_tool[0].messages) if m["role"] == "assistant")
    thinking = assistant["content"][0]
    assert thinking["type"] == "thinking" and live.fake.signatures[thinking["signature"]] == thinking["thinking"]

    # A second turn (`codex exec resume`): the whole history again, the sealed reasoning with it.
    run = await codex(live, tmp_path, *REASONING, "resume", "--last", "<<say:Second turn>>")
    assert run.stdout.strip() == "Second turn"
    (later,) = sent_with(live, "<<say:Second turn>>")
    assert [x["encrypted_content"] for x in later.json()["input"] if x["type"] == "reasoning"] == sealed
    (upstream_later,) = live.fake.find("<<say:Second turn>>")
    kept = [b for m in upstream_later.messages if m["role"] == "assistant" for b in m["content"]]
    assert any(b["type"] == "thinking" and b.get("signature") == thinking["signature"] for b in kept), kept
