"""How a CLI process is launched: its profile, argv and environment. Pure functions.

A process's system prompt cannot change after launch (see the protocol notes), so the system
prompt is part of the *launch profile*; the model and the conversation are not.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import attrs

# Variables of the server's own environment that the CLI may need to reach and authenticate
# with the upstream. Everything else (API_KEYS, REDIS_URL, ...) stays out of the child.
PASSTHROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
)
PASSTHROUGH_PREFIXES = ("ANTHROPIC_",)


MCP_SERVER = "c"
MCP_PREFIX = f"mcp__{MCP_SERVER}__"


@attrs.frozen
class ClientTool:
    """A client's function, offered to the model as a tool of the bridge's in-process MCP server."""

    name: str
    description: str
    input_schema: str  # canonical JSON, so that equal tool sets compare equal


@attrs.frozen
class LaunchProfile:
    """What must be fixed when a process starts.

    The system prompt cannot change after launch, and a process remembers every client tool it
    ever announced upstream (even across a rewind), so the client's tools and the structured
    output schema are fixed per process too: a request never sees another request's tools.
    """

    system_prompt: str = ""
    tools: tuple[str, ...] = ()
    client_tools: tuple[ClientTool, ...] = ()
    json_schema: str | None = None

    @property
    def key(self) -> str:
        material = "\0".join(
            [self.system_prompt, ",".join(self.tools), self.json_schema or ""]
            + [f"{t.name}\1{t.description}\1{t.input_schema}" for t in self.client_tools]
        )
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return (
            f"LaunchProfile(key={self.key!r}, system_chars={len(self.system_prompt)}, "
            f"client_tools={len(self.client_tools)}, json_schema={self.json_schema is not None})"
        )


DEFAULT_PROFILE = LaunchProfile()


@attrs.frozen
class LaunchSettings:
    command: str
    request_timeout: float
    workdir: Path
    base_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    user_home: Path | None = None


def build_argv(settings: LaunchSettings, system_prompt_file: Path, profile: LaunchProfile) -> list[str]:
    argv = [
        settings.command,
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        # Leaving a tool out of --tools is the one control that held in every probe.
        "--tools",
        ",".join(profile.tools),
        "--setting-sources",
        "",
        "--strict-mcp-config",
        "--no-session-persistence",
        # A file, not argv: a long system prompt must not hit the argv size limit.
        "--system-prompt-file",
        str(system_prompt_file),
        "--model",
        "sonnet",
    ]
    if profile.client_tools:
        # The bridge itself answers this server's MCP messages; nothing is ever executed.
        argv += ["--mcp-config", json.dumps({"mcpServers": {MCP_SERVER: {"type": "sdk", "name": MCP_SERVER}}})]
    if profile.json_schema is not None:
        argv += ["--json-schema", profile.json_schema]
    return argv


def build_env(settings: LaunchSettings, home: Path, tmpdir: Path) -> dict[str, str]:
    env = {k: v for k, v in settings.base_env.items() if k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES)}
    env.update(
        HOME=str(home),
        CLAUDE_CODE_TMPDIR=str(tmpdir),
        # The supervisor owns retries and timeouts: the CLI's own loop can hold a turn 3 minutes.
        CLAUDE_CODE_MAX_RETRIES="0",
        API_TIMEOUT_MS=str(int(settings.request_timeout * 1000)),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
    )
    return env


@attrs.frozen
class SlotPaths:
    base: Path
    home: Path
    cwd: Path
    tmp: Path
    system_prompt_file: Path


def prepare_slot_dir(settings: LaunchSettings, slot_id: str, profile: LaunchProfile) -> SlotPaths:
    """Creates the slot's own empty HOME, working directory and tmp.

    The user's own `claude` login (~/.claude/.credentials.json) is linked in, nothing else of
    their HOME: no settings, no MCP servers, no CLAUDE.md.
    """
    base = settings.workdir / slot_id
    home, cwd, tmp = base / "home", base / "cwd", base / "tmp"
    for d in (home / ".claude", cwd, tmp):
        d.mkdir(parents=True, exist_ok=True)
    if settings.user_home is not None:
        creds = settings.user_home / ".claude" / ".credentials.json"
        if creds.is_file():
            link = home / ".claude" / ".credentials.json"
            if not link.exists():
                os.symlink(creds, link)
    prompt_file = base / "system-prompt.txt"
    prompt_file.write_text(profile.system_prompt, encoding="utf-8")
    return SlotPaths(base, home, cwd, tmp, prompt_file)
