"""Server-side conversations: what is stored per session and how a turn is added.

Stored messages are OpenAI chat messages (user, assistant with tool_calls, tool). System and
developer messages are not stored: each request's own instructions apply to that request.

A turn sent with an Idempotency-Key is stored at most once: the key, a fingerprint of the
turn's new messages and the answer given are kept in the session record (the newest
`KEYS_KEPT`), written in the same atomic update as the messages. A client that retries a turn
whose answer was stored but never reached it (the replica died in between) gets that answer
back instead of a second copy of the turn.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

import attrs

from bridge.errors import ApiError, NotFound
from bridge.ownership import Caller, Use, fetch, may, stamp
from bridge.storage.base import CorruptRecord, Record, Store

KIND = "sessions"
KEYS_KEPT = 16


@attrs.frozen
class TurnKey:
    """An Idempotency-Key of one session turn, and what the turn sends (its fingerprint)."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, new_messages: list[dict[str, Any]]) -> TurnKey:
        text = json.dumps(new_messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return cls(key, hashlib.sha256(text.encode()).hexdigest())


def stored_answer(record: Record | None, turn: TurnKey) -> dict[str, Any] | None:
    """What an earlier attempt of this turn answered, when it was stored (else None)."""
    entry = (record or {}).get("turn_keys", {}).get(turn.key)
    if not isinstance(entry, dict):
        return None
    if entry.get("fingerprint") != turn.fingerprint:
        raise ApiError(
            "This Idempotency-Key was already used for a different turn of this session.",
            status=409,
            type="invalid_request_error",
            param="Idempotency-Key",
            code="idempotency_key_reused",
        )
    response = entry.get("response")
    return response if isinstance(response, dict) else None


def new_session_id() -> str:
    return "sess_" + secrets.token_hex(12)


def session_record(session_id: str, metadata: dict[str, str] | None = None) -> Record:
    now = time.time()
    return {
        "id": session_id,
        "object": "session",
        "created_at": int(now),
        "created_ts": now,
        "updated_at": now,
        "metadata": metadata or {},
        "messages": [],
    }


def public(record: Record, *, with_messages: bool) -> dict[str, Any]:
    body = {
        "id": record["id"],
        "object": "session",
        "created_at": record["created_at"],
        "updated_at": int(record.get("updated_at") or record["created_at"]),
        "metadata": record.get("metadata", {}),
        "message_count": len(record.get("messages", [])),
    }
    if with_messages:
        body["messages"] = record.get("messages", [])
    return body


def trim(messages: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Drops the oldest messages beyond `limit`, then up to the next user message.

    Cutting there keeps the history valid: it never starts with an assistant reply or with a
    tool result whose call was dropped.
    """
    if len(messages) <= limit:
        return messages
    kept = messages[len(messages) - limit :]
    first_user = next((i for i, m in enumerate(kept) if m.get("role") == "user"), len(kept))
    return kept[first_user:]


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"No session found with id '{session_id}'.", param="session_id", code="session_not_found")


class Sessions:
    """Every method takes the caller: another key's session is answered as a missing one (bridge.ownership)."""

    def __init__(self, store: Store, max_messages: int) -> None:
        self._store = store
        self._max = max_messages

    async def create(
        self, caller: Caller, metadata: dict[str, str] | None = None, session_id: str | None = None
    ) -> Record:
        record = stamp(session_record(session_id or new_session_id(), metadata), caller)
        await self._store.put(KIND, record["id"], record)
        return record

    async def get(self, caller: Caller, session_id: str, use: Use = Use.READ) -> Record:
        record = await fetch(self._store, KIND, session_id, caller, use)
        if record is None:
            raise _not_found(session_id)
        return record

    async def load(self, caller: Caller, session_id: str) -> Record | None:
        """The session a turn continues; None: a new one. Another key's is refused as missing
        would be on the sessions API: its id is taken, so it cannot start a new one either."""
        try:
            record = await self._store.get(KIND, session_id)
        except CorruptRecord:  # counts as a record without an owner (see `fetch`)
            if may(caller, {}, Use.CONTINUE):
                raise
            raise _not_found(session_id) from None
        if record is not None and not may(caller, record, Use.CONTINUE):
            raise _not_found(session_id)
        return record

    async def append(
        self,
        caller: Caller,
        session_id: str,
        messages: list[dict[str, Any]],
        turn: TurnKey | None = None,
        answer: dict[str, Any] | None = None,
    ) -> tuple[Record, dict[str, Any] | None]:
        """Adds one turn; an unknown id creates the session (chat requests may name a new one).

        With a `turn` key already stored, nothing is added and the answer stored then is
        returned second (the check and the write are one atomic update).
        """
        earlier: dict[str, Any] | None = None

        def change(current: Record | None) -> Record:
            nonlocal earlier
            if current is not None and not may(caller, current, Use.CONTINUE):
                raise _not_found(session_id)  # another key took the id meanwhile
            record = current or stamp(session_record(session_id), caller)
            earlier = stored_answer(record, turn) if turn is not None else None
            if earlier is not None:
                return record
            record["messages"] = trim([*record.get("messages", []), *messages], self._max)
            record["updated_at"] = time.time()
            if turn is not None:
                keys = dict(record.get("turn_keys") or {})
                keys[turn.key] = {"fingerprint": turn.fingerprint, "response": answer, "at": time.time()}
                record["turn_keys"] = dict(sorted(keys.items(), key=lambda kv: kv[1].get("at", 0))[-KEYS_KEPT:])
            return record

        result = await self._store.update(KIND, session_id, change)
        assert result is not None
        return result, earlier

    async def clear(self, caller: Caller, session_id: str) -> Record:
        await self.get(caller, session_id, Use.DELETE)  # a missing or foreign id never takes the record's lock

        def change(current: Record | None) -> Record | None:
            if current is None or not may(caller, current, Use.DELETE):
                raise _not_found(session_id)
            current["messages"] = []
            current["updated_at"] = time.time()
            return current

        record = await self._store.update(KIND, session_id, change)
        assert record is not None
        return record

    async def delete(self, caller: Caller, session_id: str) -> None:
        def change(current: Record | None) -> None:
            if current is None or not may(caller, current, Use.DELETE):
                raise _not_found(session_id)
            # None: the store removes the record (checked and removed in one atomic update)

        try:
            await self.get(caller, session_id, Use.DELETE)  # a missing or foreign id never takes the record's lock
        except CorruptRecord:  # for those who may delete a record without an owner
            await self._store.delete(KIND, session_id)
        else:
            await self._store.update(KIND, session_id, change)

    async def list(self, caller: Caller) -> list[Record]:
        records = [r for r in await self._store.list(KIND) if may(caller, r, Use.READ)]
        return sorted(records, key=lambda r: (r.get("created_ts", r.get("created_at", 0)), r["id"]), reverse=True)
