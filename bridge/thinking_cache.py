"""Signed thinking blocks, kept by tool-call id for the round trip.

With thinking on (the CLI always asks for adaptive thinking), the Messages API refuses a
conversation whose last assistant tool_use message does not start with the signed thinking
block it was answered with. OpenAI clients send the history back without those blocks, so the
bridge keeps them here when it hands out a tool call and puts them back when the call returns
in a replayed history. The cache lives in this process, bounded by the size of what it holds
(oldest out first); another replica does not see it (a session bound to its process keeps the
blocks there anyway).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable

from bridge.translate.thinking import SignedThinking

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class ThinkingCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[SignedThinking, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keep(self, call_ids: Iterable[str], kept: SignedThinking) -> None:
        size = len(json.dumps(kept.blocks)) + len(kept.model) + 64
        if size > self._max:
            return
        for call_id in call_ids:
            self._drop(call_id)
            self._entries[call_id] = (kept, size)
            self._bytes += size
        while self._bytes > self._max and self._entries:
            self._drop(next(iter(self._entries)))

    def lookup(self, call_ids: Iterable[str]) -> dict[str, SignedThinking]:
        found = {}
        for call_id in call_ids:
            entry = self._entries.get(call_id)
            if entry is not None:
                self._entries.move_to_end(call_id)
                found[call_id] = entry[0]
        return found

    def _drop(self, call_id: str) -> None:
        entry = self._entries.pop(call_id, None)
        if entry is not None:
            self._bytes -= entry[1]
