"""Server tools a request may name (Anthropic's `bash_*`, `text_editor_*`, `computer_*`,
`code_execution_*`, `web_search_*`, ...; OpenAI's built-in tools): the one place that decides.

Nothing a request says makes anything run on the host, so every tool that would execute code,
touch files or drive a screen is refused. Web search and web fetch are the CLI's own WebSearch
and WebFetch, which only `SECURITY_MODE=web` offers: there (and only there) they are allowed.
"""

from __future__ import annotations

import re

# \Z, not $: `$` also matches before a final newline ("web_search\n" is no web search tool).
_KINDS = (
    (re.compile(r"\Aweb_search(_\d{8})?\Z"), "web_search", "web search"),
    (re.compile(r"\Aweb_fetch(_\d{8})?\Z"), "web_fetch", "web fetch"),
    (re.compile(r"\Abash(_\d{8})?\Z"), None, "a shell on the host"),
    (re.compile(r"\Atext_editor(_\d{8})?\Z"), None, "editing files on the host"),
    (re.compile(r"\Acomputer(_\d{8})?\Z|\Acomputer_toolset"), None, "driving the host's screen"),
    (re.compile(r"\Acode_execution(_\d{8})?\Z"), None, "running code"),
    (re.compile(r"\Amemory(_\d{8})?\Z"), None, "a memory directory on the host"),
    (re.compile(r"\Abrowser"), None, "driving a browser"),
)
WEB_TOOLS = ("web_search", "web_fetch")


def server_tool_refusal(kind: str, *, web_mode: bool) -> str | None:
    """Why a server tool of this type cannot be offered, or None when it may be (web tools in web mode)."""
    for pattern, family, what in _KINDS:
        if pattern.match(kind):
            if family in WEB_TOOLS:
                if web_mode:
                    return None
                return f"{what} is only available when the bridge runs with SECURITY_MODE=web."
            return f"the '{kind}' server tool would mean {what}; nothing runs on this bridge's host."
    return f"the '{kind}' tool type is not available on this bridge; declare client tools (with input_schema)."
