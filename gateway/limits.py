"""Token buckets (per key, and per client address for failed keys) and the cache of
resolved keys, all in this process.

With several gateway replicas each keeps its own buckets, so the effective limit is the
per-replica rate times the replicas a key's traffic lands on, unless ``PENTAD_REDIS_URL``
is set (gateway/shared.py); see deploy/README.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypeVar

from pentad.identity import Caller

V = TypeVar("V")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``max_keys`` bounds memory when keys are client addresses (anyone can bring new ones)."""

    def __init__(self, *, per_second: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed (a token is spent), else the seconds to wait before the next token."""
        bucket = self._refilled(key, time.monotonic() if now is None else now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def wait(self, key: str, now: float | None = None) -> float:
        """What ``take`` would answer, without spending a token."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + ((time.monotonic() if now is None else now) - bucket.at) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket; if none has, the oldest half
        # goes (their owners get a fresh burst: the price of bounded memory).
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            for key in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[key]


class KeyCache:
    """Resolved keys (and unknown ones) for a few seconds, so auth is not a query per call.

    A revoked key stops working here at once and on other replicas within ``ttl``. Known
    and unknown keys are kept apart, each bounded (oldest out first), so a flood of bad
    keys never pushes out the good ones; a good key's entry is kept past its ``ttl`` as
    a sign it was valid (``seen_valid``), until pushed out.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, *, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._known: dict[str, tuple[Caller, float]] = {}
        self._unknown: dict[str, float] = {}
        self._revoked: dict[str, float] = {}  # key id -> until when it is not cached as valid

    def get(self, key_hash: str) -> tuple[bool, Caller | None]:
        now = time.monotonic()
        known = self._known.get(key_hash)
        if known is not None and known[1] >= now:
            return True, known[0]
        until = self._unknown.get(key_hash)
        return (until is not None and until >= now), None

    def seen_valid(self, key_hash: str) -> bool:
        """This key resolved to a caller not long ago (it may since have been revoked)."""
        return key_hash in self._known

    def put(self, key_hash: str, caller: Caller | None) -> None:
        until = time.monotonic() + self.ttl
        if caller is None:
            self._known.pop(key_hash, None)
            _put_bounded(self._unknown, key_hash, until, self.max_entries)
        elif self._revoked and self._revoked.get(caller.key_id, 0.0) >= time.monotonic():
            # Resolved by a lookup that started before the revocation committed: not kept.
            self._known.pop(key_hash, None)
        else:
            self._unknown.pop(key_hash, None)
            _put_bounded(self._known, key_hash, (caller, until), self.max_entries)

    def forget_key_id(self, key_id: str) -> None:
        for key_hash, (caller, _) in list(self._known.items()):
            if caller.key_id == key_id:
                del self._known[key_hash]
        _put_bounded(self._revoked, key_id, time.monotonic() + self.ttl, self.max_entries)

    def clear(self) -> None:
        self._known.clear()
        self._unknown.clear()

    def __len__(self) -> int:
        return len(self._known) + len(self._unknown)


def _put_bounded(entries: dict[str, V], key: str, value: V, limit: int) -> None:
    entries.pop(key, None)  # re-inserted last: dicts keep insertion order, the oldest first
    if len(entries) >= limit:
        del entries[next(iter(entries))]
    entries[key] = value
