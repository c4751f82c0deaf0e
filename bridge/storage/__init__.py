"""Where sessions and stored responses live: JSON files (default), Redis (replicas), or memory."""

from bridge.storage.base import CorruptRecord, Store, StoreError

__all__ = ["CorruptRecord", "Store", "StoreError"]
