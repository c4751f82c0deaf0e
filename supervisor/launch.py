"""How a CLI process is launched: its profile, argv and environment. Pure functions.

Only what cannot change on a warm process is part of the *launch profile*: the built-in tools
it may offer and the structured-output schema (`--json-schema`). The system prompt, the model
and the client's tools change per turn (see `supervisor/slot.py` and docs/cli-findings.md).
Every process starts with an empty system prompt file and no MCP server.
"""

from __future__ import annotations

import hashlib
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


@attrs.frozen(cache_hash=True)
class ClientTool:
    """A client's function, offered to the model as a tool of the bridge's in-process MCP server.

    Its hash is kept: placement compares tool sets (frozensets of these) for every idle process
    and waiting turn on each dispatch, which showed in the fleet bench's profile."""

    name: str
    description: str
    input_schema: str  # canonical JSON, so that equal tool sets compare equal


@attrs.frozen
class LaunchProfile:
    """What must be fixed when a process starts: the CLI tools it offers and the output schema.

    The CLI adds its structured-output tool for `--json-schema` at start and nothing changes it
    later (a second `initialize` with `jsonSchema` is accepted and ignored), so a schema needs a
    process of its own.
    """

    tools: tuple[str, ...] = ()
    json_schema: str | None = None

    @property
    def key(self) -> str:
        material = "\0".join([",".join(self.tools), self.json_schema or ""])
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LaunchProfile(key={self.key!r}, tools={len(self.tools)}, json_schema={self.json_schema is not None})"


DEFAULT_PROFILE = LaunchProfile()


@attrs.frozen
class LaunchSettings:
    command: str
    request_timeout: float
    workdir: Path
    base_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    user_home: Path | None = None
    # An upstream account's own variables (supervisor/accounts.py), set as they are, after the
    # PASSTHROUGH filter: a cloud provider's settings need more than that filter lets through.
    account_env: Mapping[str, str] = attrs.field(factory=dict, repr=False)


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
        # An empty file leaves only the CLI's two fixed system blocks; turns set their own prompt.
        "--system-prompt-file",
        str(system_prompt_file),
        "--model",
        "sonnet",
    ]
    if profile.json_schema is not None:
        argv += ["--json-schema", profile.json_schema]
    return argv


def build_env(settings: LaunchSettings, home: Path, tmpdir: Path) -> dict[str, str]:
    env = {k: v for k, v in settings.base_env.items() if k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES)}
    env.update(settings.account_env)
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
    # Empty: no system prompt of the bridge's until a turn sets one (`set_model` system_prompt).
    prompt_file.write_text("", encoding="utf-8")
    return SlotPaths(base, home, cwd, tmp, prompt_file)
