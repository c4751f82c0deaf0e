"""Stop sequences applied to streamed text, also when a sequence is split across deltas. Pure."""

from __future__ import annotations

import attrs


@attrs.define
class StopCutter:
    stops: tuple[str, ...]
    _held: str = ""
    matched: str | None = None  # the sequence that was hit (the Messages API reports it)

    def feed(self, text: str) -> tuple[str, bool]:
        """(text safe to emit, whether a stop sequence was hit). After a hit, nothing more is emitted."""
        buffer = self._held + text
        hits = [(i, len(s), s) for s in self.stops if (i := buffer.find(s)) >= 0]
        if hits:
            self._held = ""
            at, _, self.matched = min(hits)  # the earliest; of two at one place, the shorter ended first
            return buffer[:at], True
        hold = 0
        for size in range(min(len(buffer), max(map(len, self.stops)) - 1), 0, -1):
            tail = buffer[-size:]
            if any(s.startswith(tail) for s in self.stops):
                hold = size
                break
        self._held = buffer[len(buffer) - hold :]
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
