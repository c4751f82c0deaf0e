"""What the held-conversation tests compare: the conversation an upstream request carried, the
one the client sent, and how many lines each request resumed or replayed (from the logs)."""

from __future__ import annotations

from typing import Any

from tests.fake_upstream import Recorded, block_text


def convo(req: Recorded) -> list[tuple[str, str]]:
    return [(m["role"], block_text(m["content"])) for m in req.messages if m["role"] != "system"]


def expected(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in messages if m["role"] not in ("system", "developer")]


def turns(logs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(e["resumed_lines"], e["replayed_lines"]) for e in logs if e["event"] == "request"]
