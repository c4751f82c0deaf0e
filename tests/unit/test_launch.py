from __future__ import annotations

from pathlib import Path

from supervisor.errors import UpstreamError
from supervisor.launch import LaunchProfile, LaunchSettings, build_argv, build_env, prepare_slot_dir


def settings(tmp_path: Path, **env: str) -> LaunchSettings:
    return LaunchSettings(
        command="claude",
        request_timeout=30,
        workdir=tmp_path,
        base_env={"PATH": "/bin", "ANTHROPIC_API_KEY": "k", "API_KEYS": "secret", **env},
        user_home=tmp_path / "user",
    )


def test_argv_locks_tools_settings_and_mcp_down(tmp_path: Path) -> None:
    argv = build_argv(settings(tmp_path), tmp_path / "sp.txt", LaunchProfile())
    assert argv[argv.index("--tools") + 1] == ""
    assert argv[argv.index("--setting-sources") + 1] == ""
    assert "--strict-mcp-config" in argv and "--no-session-persistence" in argv
    assert "--bare" not in argv, "--bare would drop the hooks"
    assert "--mcp-config" not in argv, "the bridge's MCP server is connected per turn"
    assert not any(a in argv for a in ("--dangerously-skip-permissions", "acceptEdits", "bypassPermissions"))


def test_env_passes_credentials_only(tmp_path: Path) -> None:
    env = build_env(settings(tmp_path), tmp_path / "h", tmp_path / "t")
    assert env["ANTHROPIC_API_KEY"] == "k" and "API_KEYS" not in env
    assert env["HOME"] == str(tmp_path / "h") and env["CLAUDE_CODE_TMPDIR"] == str(tmp_path / "t")
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0" and env["API_TIMEOUT_MS"] == "30000"


def test_slot_dir_links_only_the_login(tmp_path: Path) -> None:
    creds = tmp_path / "user" / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True)
    creds.write_text("{}")
    (creds.parent / "settings.json").write_text('{"permissions": {"allow": ["Bash"]}}')
    paths = prepare_slot_dir(settings(tmp_path), "s1", LaunchProfile())
    assert (paths.home / ".claude" / ".credentials.json").resolve() == creds
    assert not (paths.home / ".claude" / "settings.json").exists()
    assert paths.system_prompt_file.read_text() == "", "turns set their own system prompt"
    assert not any(paths.cwd.iterdir())


def test_transient_upstream_errors() -> None:
    assert UpstreamError("x", 529).transient and UpstreamError("x", 500).transient
    assert UpstreamError("x", 429).transient
    assert not UpstreamError("x", 401).transient and not UpstreamError("x", 400).transient
    assert not UpstreamError("Request timed out", None, "api_error").transient
    assert UpstreamError("connection reset", None, "api_error").transient
