"""Redis: the same operations, shared by several bridge replicas, with native TTLs."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError, WatchError

from bridge.storage.base import Change, CorruptRecord, Record, StoreError, decode_record


class RedisStore:
    def __init__(
        self, url: str, ttl_seconds: float | None, prefix: str = "claude-bridge", keep: tuple[str, ...] = ()
    ) -> None:
        self._client: Any = redis.from_url(url, decode_responses=True)
        self._ttl = int(ttl_seconds) if ttl_seconds else None
        self._prefix = prefix
        self._keep = keep  # kinds whose records never expire (the per-key spend)

    def _expiry(self, kind: str) -> int | None:
        return None if kind in self._keep else self._ttl

    def __repr__(self) -> str:  # the URL may hold a password
        return "<RedisStore>"

    def _key(self, kind: str, record_id: str) -> str:
        return f"{self._prefix}:{kind}:{record_id}"

    def _index(self, kind: str) -> str:
        return f"{self._prefix}:{kind}:_index"

    @staticmethod
    def _decode(kind: str, record_id: str, raw: str | None) -> Record | None:
        return None if raw is None else decode_record(kind, record_id, raw)

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except RedisError as exc:
            raise StoreError(f"Redis is unreachable: {exc}") from exc

    async def get(self, kind: str, record_id: str) -> Record | None:
        try:
            raw = await self._client.get(self._key(kind, record_id))
        except RedisError as exc:
            raise StoreError(str(exc)) from exc
        return self._decode(kind, record_id, raw)

    async def put(self, kind: str, record_id: str, record: Record) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._key(kind, record_id), json.dumps(record, ensure_ascii=False), ex=self._expiry(kind))
                pipe.zadd(self._index(kind), {record_id: float(record.get("created_at", 0))})
                await pipe.execute()
        except RedisError as exc:
            raise StoreError(str(exc)) from exc

    async def update(self, kind: str, record_id: str, change: Change) -> Record | None:
        key = self._key(kind, record_id)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        current = self._decode(kind, record_id, await pipe.get(key))
                        new = change(current)
                        pipe.multi()
                        if new is None:
                            pipe.delete(key)
                            pipe.zrem(self._index(kind), record_id)
                        else:
                            pipe.set(key, json.dumps(new, ensure_ascii=False), ex=self._expiry(kind))
                            pipe.zadd(self._index(kind), {record_id: float(new.get("created_at", 0))})
                        await pipe.execute()
                        return new
                    except WatchError:
                        continue  # someone else changed it first: apply the change to theirs
        except RedisError as exc:
            raise StoreError(str(exc)) from exc

    async def delete(self, kind: str, record_id: str) -> bool:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(kind, record_id))
                pipe.zrem(self._index(kind), record_id)
                deleted, _ = await pipe.execute()
        except RedisError as exc:
            raise StoreError(str(exc)) from exc
        return bool(deleted)

    async def list(self, kind: str) -> list[Record]:
        try:
            ids = await self._client.zrange(self._index(kind), 0, -1)
            raws = await self._client.mget([self._key(kind, i) for i in ids]) if ids else []
        except RedisError as exc:
            raise StoreError(str(exc)) from exc
        records = []
        expired = []
        for record_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                expired.append(record_id)  # the key's TTL ran out; drop it from the index
                continue
            try:
                record = self._decode(kind, record_id, raw)
            except CorruptRecord:
                continue
            if record is not None:
                records.append(record)
        if expired:
            # Best effort: a read-only Redis still lists what it holds.
            with contextlib.suppress(RedisError):
                await self._client.zrem(self._index(kind), *expired)
        return records

    async def sweep(self, kind: str, older_than: float) -> int:
        return 0  # keys expire by themselves (EXPIRE is refreshed on every write)

    async def close(self) -> None:
        await self._client.aclose()
