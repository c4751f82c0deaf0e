"""Sealed reasoning: the signed thinking a stateless client carries in `encrypted_content`.

A client that keeps its own conversation (`store: false`, as Codex CLI does) asks for
`include: ["reasoning.encrypted_content"]` and sends the reasoning items back on the next turn.
The Messages API refuses a replayed tool call without the signed thinking it was made after, so
the bridge puts that thinking (with the call ids it belongs to) in the item, sealed with
AES-256-GCM under a key of the bridge and bound to the caller (the API key's fingerprint, or the
address without keys) as associated data: no one can read or forge it, and another caller's
item does not open. A token that does not open is a 400 before anything reaches the upstream.

The key is REASONING_KEY, or, unset, one generated on first use and kept in the store (kind
`secrets`), where every replica sharing the store finds the same one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import zlib
from collections.abc import Sequence
from typing import Any

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridge.errors import InvalidRequest
from bridge.storage.base import Store, StoreError
from bridge.translate.thinking import KeptThinking, SignedThinking

PREFIX = "cbr1."  # this bridge's sealed reasoning, version 1
AAD = b"claude-bridge/reasoning/v1\x00"
KIND = "secrets"
KEY_ID = "reasoning-key"
NONCE_BYTES = 12


def _refused(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': this encrypted content was not issued by this server to this API key, or it "
        "was altered. Send the reasoning items exactly as this server returned them, or leave them out.",
        param=param,
        code="invalid_encrypted_content",
    )


@attrs.define
class Sealer:
    _aead: AESGCM = attrs.field(repr=False)

    def seal(self, owner: str, kept: Sequence[KeptThinking]) -> str:
        payload = [
            {"calls": list(k.call_ids), "model": k.thinking.model, "blocks": list(k.thinking.blocks)} for k in kept
        ]
        plain = zlib.compress(json.dumps(payload, separators=(",", ":")).encode())
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plain, AAD + owner.encode())
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, owner: str, token: str, param: str) -> list[KeptThinking]:
        """The kept thinking a token holds; a 400 naming `param` when it does not open for `owner`."""
        if not token.startswith(PREFIX):
            raise _refused(param)
        body = token[len(PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], AAD + owner.encode())
            payload: Any = json.loads(zlib.decompress(plain))
            return [
                KeptThinking(SignedThinking(str(k["model"]), tuple(k["blocks"])), tuple(str(c) for c in k["calls"]))
                for k in payload
            ]
        except (binascii.Error, ValueError, InvalidTag, zlib.error, KeyError, TypeError):
            raise _refused(param) from None


@attrs.define
class SealKeys:
    """The bridge's sealer, made once: from REASONING_KEY, or the key kept in the store."""

    _configured: bytes | None = attrs.field(default=None, repr=False)
    _sealer: Sealer | None = attrs.field(default=None, repr=False)
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, repr=False)

    async def get(self, store: Store) -> Sealer:
        if self._sealer is not None:
            return self._sealer
        async with self._lock:
            if self._sealer is None:
                key = self._configured or await _stored_key(store)
                self._sealer = Sealer(AESGCM(key))
        return self._sealer


async def _stored_key(store: Store) -> bytes:
    """The store's key, created by whichever replica asks first (the store's update is atomic)."""
    fresh = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    def keep_first(record: dict[str, Any] | None) -> dict[str, Any]:
        if record is not None and isinstance(record.get("key"), str):
            return record
        return {"id": KEY_ID, "key": fresh}

    record = await store.update(KIND, KEY_ID, keep_first)
    assert record is not None
    key = base64.urlsafe_b64decode(record["key"])
    if len(key) != 32:
        raise StoreError(f"the stored {KIND} '{KEY_ID}' is not a 32-byte key")
    return key
