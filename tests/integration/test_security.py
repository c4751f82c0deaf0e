"""The model can run nothing on the host, whatever the upstream asks for."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Bridge


async def test_bash_probe_runs_nothing(bridge: Bridge, tmp_path: Path) -> None:
    target = tmp_path / "bash-was-here"
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"<<bash:touch {target}>>"}]
    )
    assert not target.exists(), "Bash ran on the host"
    assert resp.choices[0].message.content, "the client still gets an answer"
    follow_up = bridge.fake.messages_requests()[-1]
    results = [
        b
        for m in follow_up.messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert results and all(b.get("is_error") for b in results), json.dumps(results)


async def test_write_probe_runs_nothing(bridge: Bridge, tmp_path: Path) -> None:
    outside = tmp_path / "write-was-here.txt"
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"<<write:{outside}>>"}]
    )
    assert not outside.exists(), "Write ran on the host"
    assert resp.choices[0].message.content
    for slot_dir in Path(bridge.pool.launch.workdir).glob("*/cwd"):
        assert not any(slot_dir.iterdir()), f"something was written into {slot_dir}"


async def test_write_inside_the_working_directory_runs_nothing(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<write:pwned.txt>>"}])
    for slot_dir in Path(bridge.pool.launch.workdir).glob("*/cwd"):
        assert not (slot_dir / "pwned.txt").exists()


async def test_no_tools_and_no_mcp_are_offered(bridge: Bridge) -> None:
    client = bridge.client()
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "tools? <<say:no>>"}])
    (req,) = bridge.fake.find("tools?")
    assert req.body.get("tools", []) == []


async def test_cli_children_do_not_inherit_bridge_secrets(make_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = await make_bridge(API_KEYS="sk-bridge-secret", REDIS_URL="redis://:pw@127.0.0.1/0", POOL_SIZE="1")
    (pid,) = bridge.pool.pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {e.split(b"=", 1)[0].decode() for e in environ if e}
    assert "API_KEYS" not in names and "REDIS_URL" not in names
    assert "ANTHROPIC_API_KEY" in names
    home = next(e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"HOME="))
    assert home.startswith(str(bridge.pool.launch.workdir)), "each process has a HOME of its own"


async def test_file_mentions_and_slash_commands_are_plain_text(bridge: Bridge, tmp_path: Path) -> None:
    """The CLI expands `@path` in a user message by reading that file from the host, and runs
    `/commands`; the bridge marks every user line `text_not_typed`, so neither happens."""
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-SECRET-7731")
    client = bridge.client()
    resp = await client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": f"earlier @{secret}"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": f"mention @{secret} <<say:plain>>"},
        ],
    )
    assert resp.choices[0].message.content == "plain"
    (req,) = bridge.fake.find("mention @")
    assert "HOST-SECRET-7731" not in json.dumps(req.body)
    resp = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "/cost"}])
    assert resp.choices[0].message.content == "Hello from the fake upstream."
    assert bridge.fake.messages_requests()[-1].messages[0]["content"] == "/cost"
