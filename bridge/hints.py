"""Which requests name a bridge session, and the client's own conversation ids. Pure.

Agent apps send their own conversation ids on every request: opencode `x-session-id: ses_…`,
Codex CLI `session-id` and `thread-id` (and `prompt_cache_key`, its thread id again). They send
the whole conversation each time, so such an id must never make the bridge put stored history in
front of it. The `X-Session-ID` header names a bridge session only in the form the bridge issues
(`sess_…`, from `POST /v1/sessions`); any other value there is the client's own id.

A client's own id says the conversation will continue: the turn's process keeps it (as a session
turn does), so the next request finds it warm instead of replaying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SESSION_PREFIX = "sess_"
SESSION_HEADER = "X-Session-ID"
# Where apps put their own conversation ids, in the order they are read.
CLIENT_HEADERS = (SESSION_HEADER, "session-id", "thread-id", "conversation-id")
MAX_HINT = 256


def bridge_session(header: str | None) -> str | None:
    """The bridge session an X-Session-ID header names (None: the client's own id, or none)."""
    return header if header is not None and header.startswith(SESSION_PREFIX) else None


def conversation_hint(headers: Mapping[str, str], body: Any) -> str | None:
    """The client's own id for the conversation a request continues, if it sends one."""
    for name in CLIENT_HEADERS:
        value = headers.get(name)
        if value and bridge_session(value) is None:
            return value[:MAX_HINT]
    key = body.get("prompt_cache_key") if isinstance(body, dict) else None
    return key[:MAX_HINT] if isinstance(key, str) and key else None
