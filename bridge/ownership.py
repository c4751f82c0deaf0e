"""Whose a stored record is, and who may read, delete or continue it.

With API_KEYS set, everything a request stores (a session with its Idempotency-Key answers, a
stored response with its input items and conversation) names its owner: the key's fingerprint,
kept inside the record, so every replica on one Redis decides the same. Another key is answered
exactly as for an id that does not exist. Keys in ADMIN_API_KEYS may also read and delete every
key's records (and records stored before owners were kept, which name none), but continue only
their own: a conversation goes upstream under the key that owns it, never under another. With no
API_KEYS (one user) nothing is checked and nothing is stamped.

`may` is the one place that decides; the routes ask it, or read through `fetch` (`bridge.http.caller`
says who asks).
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from bridge.storage.base import CorruptRecord, Record, Store

OWNER = "owner"


class Use(enum.Enum):
    READ = "read"  # get, list, input items
    DELETE = "delete"  # delete, clear
    CONTINUE = "continue"  # X-Session-ID, previous_response_id, item_reference: its content goes upstream


@attrs.frozen
class Caller:
    """Who asks: the key's fingerprint (None when the server has no API_KEYS) and whether it is an admin key."""

    owner: str | None
    admin: bool = False


def may(caller: Caller, record: dict[str, Any], use: Use) -> bool:
    """Whether `caller` may `use` a stored record. Pure."""
    if caller.owner is None:
        return True  # no API_KEYS: a single user, as before owners existed
    if record.get(OWNER) == caller.owner:
        return True
    return caller.admin and use is not Use.CONTINUE


def stamp(record: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The record, naming its owner (unchanged without API_KEYS). Pure."""
    return record if caller.owner is None else {**record, OWNER: caller.owner}


async def fetch(store: Store, kind: str, record_id: str, caller: Caller, use: Use) -> Record | None:
    """The stored record if `caller` may `use` it, else None, as for an id nothing holds.

    A record that cannot be read names no owner anyone can see, so it counts as one stored
    without an owner: its corrupt_record error goes to those who may use such records (admin
    keys, everyone without API_KEYS), and other keys are answered as for a missing id.
    """
    try:
        record = await store.get(kind, record_id)
    except CorruptRecord:
        if may(caller, {}, use):
            raise
        return None
    return record if record is not None and may(caller, record, use) else None
