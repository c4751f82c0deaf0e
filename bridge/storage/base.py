"""One storage interface for every backend.

Records are JSON objects addressed by (kind, id). `update` is the only way to change a record
that others may change at the same time: it applies a function to the latest stored version
under a per-record lock (files) or an optimistic transaction (Redis), so concurrent turns on
one session never lose a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

Record = dict[str, Any]
Change = Callable[[Record | None], Record | None]
# Anchored with \A and \Z, never `^...$`: with `match`, `$` also matches before a final newline
# ("abc\n" passed). SAFE_ID_CHARS is the same rule for JSON Schema patterns (ECMA, no \Z).
SAFE_ID_CHARS = "[A-Za-z0-9_-]{1,128}"
SAFE_ID = re.compile(rf"\A{SAFE_ID_CHARS}\Z")


class StoreError(Exception):
    """The storage backend failed (unreachable, full, ...)."""


class CorruptRecord(StoreError):
    """One record cannot be read; the others are untouched."""

    def __init__(self, kind: str, record_id: str, detail: str) -> None:
        super().__init__(f"the stored {kind} '{record_id}' is unreadable: {detail}")
        self.kind = kind
        self.record_id = record_id


def decode_record(kind: str, record_id: str, text: str) -> Record:
    """Parses a stored record; anything but a JSON object is that record's corruption alone."""
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise CorruptRecord(kind, record_id, f"not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise CorruptRecord(kind, record_id, "not a JSON object")
    return record


class Store(Protocol):
    async def get(self, kind: str, record_id: str) -> Record | None: ...

    async def put(self, kind: str, record_id: str, record: Record) -> None: ...

    async def update(self, kind: str, record_id: str, change: Change) -> Record | None: ...

    async def delete(self, kind: str, record_id: str) -> bool: ...

    async def list(self, kind: str) -> list[Record]: ...

    async def sweep(self, kind: str, older_than: float) -> int: ...

    async def close(self) -> None: ...
