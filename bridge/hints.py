"""Which requests name a bridge session, and the client's own conversation ids. Pure.

Agent apps send their own conversation ids on every request: opencode `x-session-id: ses_…`,
Codex CLI `session-id` and `thread-id` (and `prompt_cache_key`, its thread id again). They send
the whole conversation each time, so such an id must never make the bridge put stored history in
front of it. The `X-Session-ID` header names a bridge session only in the form the bridge issues
(`sess_…`, from `POST /v1/sessions`); any other value there is the client's own id.

A session request whose messages already hold the stored history (a client that resends the
whole conversation) gets nothing put in front of it; only what follows the history is new.

A client's own id says the conversation will continue: the turn's process keeps it (as a session
turn does), so the next request finds it warm instead of replaying it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SESSION_PREFIX = "sess_"
SESSION_HEADER = "X-Session-ID"
# Where apps put their own conversation ids, in the order they are read (earlier Codex versions:
# `session_id`, `conversation_id`).
CLIENT_HEADERS = (SESSION_HEADER, "session-id", "thread-id", "conversation-id", "session_id", "conversation_id")
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


def _calls(message: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            return [(None, None, repr(call))]
        arguments = function.get("arguments")
        try:
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            pass
        calls.append((call.get("id"), function.get("name"), arguments))
    return calls


def _same(sent: Any, stored: Any) -> bool:
    """The same message, whatever fields a client adds when it echoes one (refusal: null, ...)."""
    if not isinstance(sent, dict) or not isinstance(stored, dict):
        return False
    return (
        sent.get("role") == stored.get("role")
        and (sent.get("content") or "") == (stored.get("content") or "")
        and sent.get("tool_call_id") == stored.get("tool_call_id")
        and _calls(sent) == _calls(stored)
    )


def resent(messages: list[Any], history: list[dict[str, Any]]) -> int:
    """How many of a session request's messages repeat its stored history: all of it when the
    client sent the whole conversation (with at least one new message after it), else 0."""
    if not history or len(messages) <= len(history):
        return 0
    return len(history) if all(_same(m, h) for m, h in zip(messages, history, strict=False)) else 0
