"""Signed thinking blocks, kept by owner and tool-call id for the round trip.

With thinking on (the CLI always asks for adaptive thinking), the Messages API refuses a
conversation whose last assistant tool_use message does not start with the signed thinking
block it was answered with. OpenAI clients send the history back without those blocks, so the
bridge keeps them here when it hands out a tool call and puts them back when the call returns
in a replayed history. The cache lives in this process, bounded by the size of what it holds
(oldest out first); another replica does not see it (a session bound to its process keeps the
blocks there anyway).

A block is given back only to the key it was kept for, and only in front of the very call it
was kept for: the same id, function name and arguments (canonical JSON, so key order and
spacing do not matter). A call id alone is no secret: it travels in every client's history.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bridge import jsonsafe
from bridge.translate.thinking import SignedThinking

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@attrs.frozen
class Call:
    """One client tool call as the cache knows it: its id, and its function and arguments."""

    id: str
    name: str
    arguments: str  # canonical JSON (see `canonical`)

    @classmethod
    def of(cls, call_id: str, name: str, arguments: str | Mapping[str, Any]) -> Call:
        return cls(call_id, name, canonical(arguments))


def canonical(arguments: str | Mapping[str, Any]) -> str:
    """Arguments as one text whatever their key order and spacing. Empty text is `{}`, as the
    bridge reads a call's arguments when they come back; other text that is not JSON stays as it is."""
    value: Any = arguments
    if isinstance(arguments, str):
        try:
            value = jsonsafe.loads(arguments.strip() or "{}")
        except ValueError:
            return arguments
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class ThinkingCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, str], tuple[SignedThinking, Call, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keep(self, owner: str, calls: Iterable[Call], kept: SignedThinking) -> None:
        base = len(json.dumps(kept.blocks)) + len(kept.model) + 64
        for call in calls:
            size = base + len(call.name) + len(call.arguments)
            if size > self._max:
                continue
            self._drop((owner, call.id))
            self._entries[(owner, call.id)] = (kept, call, size)
            self._bytes += size
        while self._bytes > self._max and self._entries:
            self._drop(next(iter(self._entries)))

    def lookup(self, owner: str, calls: Iterable[Call]) -> dict[str, SignedThinking]:
        """{call id: its thinking} for the calls kept for this owner exactly as they are sent back."""
        found = {}
        for call in calls:
            entry = self._entries.get((owner, call.id))
            if entry is not None and entry[1] == call:
                self._entries.move_to_end((owner, call.id))
                found[call.id] = entry[0]
        return found

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]
