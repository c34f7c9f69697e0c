"""Per-key token buckets and the cache of resolved keys, both in this process.

With several gateway replicas each keeps its own buckets, so the effective limit is the
per-replica rate times the replicas a key's traffic lands on; see deploy/README.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pentad.identity import Caller


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, *, per_second: float, burst: int) -> None:
        self.rate = per_second
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait before the next token."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class KeyCache:
    """Resolved keys (and unknown ones) for a few seconds, so auth is not a query per call.

    A revoked key stops working here at once and on other replicas within ``ttl``.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[Caller | None, float]] = {}

    def get(self, key_hash: str) -> tuple[bool, Caller | None]:
        entry = self._entries.get(key_hash)
        if entry is None or entry[1] < time.monotonic():
            return False, None
        return True, entry[0]

    def put(self, key_hash: str, caller: Caller | None) -> None:
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()  # crude but bounded: a flood of bad keys can't grow memory
        self._entries[key_hash] = (caller, time.monotonic() + self.ttl)

    def forget_key_id(self, key_id: str) -> None:
        for key_hash, (caller, _) in list(self._entries.items()):
            if caller is not None and caller.key_id == key_id:
                del self._entries[key_hash]
