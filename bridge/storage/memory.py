"""In-process storage: for tests and single-process setups that need no persistence."""

from __future__ import annotations

import copy

from bridge.storage.base import Change, Record


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Record] = {}

    async def get(self, kind: str, record_id: str) -> Record | None:
        record = self._data.get((kind, record_id))
        return copy.deepcopy(record) if record is not None else None

    async def put(self, kind: str, record_id: str, record: Record) -> None:
        self._data[(kind, record_id)] = copy.deepcopy(record)

    async def update(self, kind: str, record_id: str, change: Change) -> Record | None:
        # No await between read and write: atomic on the event loop.
        new = change(copy.deepcopy(self._data.get((kind, record_id))))
        if new is None:
            self._data.pop((kind, record_id), None)
        else:
            self._data[(kind, record_id)] = copy.deepcopy(new)
        return new

    async def delete(self, kind: str, record_id: str) -> bool:
        return self._data.pop((kind, record_id), None) is not None

    async def list(self, kind: str) -> list[Record]:
        return [copy.deepcopy(v) for (k, _), v in self._data.items() if k == kind]

    async def sweep(self, kind: str, older_than: float) -> int:
        stale = [key for key, v in self._data.items() if key[0] == kind and v.get("updated_at", 0) < older_than]
        for key in stale:
            del self._data[key]
        return len(stale)

    async def close(self) -> None:
        self._data.clear()
