"""What gateway replicas share through Redis when ``PENTAD_REDIS_URL`` is set.

- **Rate limits.** Each API key's token bucket lives in Redis (a Lua script refills and
  takes atomically, on Redis's clock), so the limit holds for the key across every
  replica. A replica does not ask Redis per request: it takes a small lease of tokens
  (``LEASE_SHARE`` of a second's rate, at least one) and spends them locally, for at most
  ``LEASE_SECONDS``; a lease left unspent is lost, so a key can get slightly less than its
  rate, never more.
- **Revocation.** A replica that revokes a key publishes its id once the revocation is
  committed; every replica subscribes and drops the key from its cache on the message,
  and for ``ttl`` refuses to cache it as valid again (a lookup that raced the commit). A
  replica that loses its subscription clears its whole key cache when it is back, since
  it may have missed messages.

Without ``PENTAD_REDIS_URL`` none of this runs: buckets and the key cache are per replica
(gateway/limits.py). If Redis stops answering, limits fall back to the replica's own
buckets (logged) until it answers again.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from gateway.limits import KeyCache, RateLimiter

log = structlog.get_logger("pentad.gateway")

CHANNEL = "pentad:gateway:revoked"
BUCKETS = "pentad:gateway:bucket:"
LEASE_SHARE = 0.05
LEASE_SECONDS = 0.25

# KEYS[1] bucket; ARGV rate/s, burst, tokens wanted. Returns {granted, wait in µs}.
_TAKE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate * 1e6) end
return {granted, wait}
"""


def connect(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30)


class SharedRateLimiter:
    """Per-key token buckets shared by every replica (see the module's doc)."""

    def __init__(self, redis: aioredis.Redis, *, per_second: float, burst: int, fallback: RateLimiter) -> None:
        self.redis = redis
        self.rate, self.burst = per_second, burst
        self.lease = max(1, int(per_second * LEASE_SHARE))
        self.fallback = fallback
        self._script = redis.register_script(_TAKE)
        self._leases: dict[str, tuple[int, float]] = {}  # key -> (tokens left, usable until)
        self._failing = False

    async def take(self, key: str) -> float:
        """0 when allowed (a token is spent), else the seconds to wait."""
        now = time.monotonic()
        left, until = self._leases.get(key, (0, 0.0))
        if left > 0 and until > now:
            self._leases[key] = (left - 1, until)
            return 0.0
        try:
            granted, wait_us = await self._script(keys=[BUCKETS + key], args=[self.rate, self.burst, self.lease])
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning("gateway.redis_unavailable", error=type(exc).__name__, using="this replica's buckets")
                self._failing = True
            return self.fallback.take(key)
        self._failing = False
        if int(granted) == 0:
            self._leases.pop(key, None)
            return int(wait_us) / 1e6
        if len(self._leases) > 50_000:
            self._leases.clear()  # bounded; a dropped lease only costs its unspent tokens
        self._leases[key] = (int(granted) - 1, now + LEASE_SECONDS)
        return 0.0


async def publish_revocation(redis: aioredis.Redis, key_id: str) -> None:
    try:
        await redis.publish(CHANNEL, key_id)
    except (RedisError, OSError) as exc:
        log.warning("gateway.revocation_not_published", key_id=key_id, error=type(exc).__name__)


async def follow_revocations(redis: aioredis.Redis, keys: KeyCache, *, ready: asyncio.Event | None = None) -> None:
    """Forever: drop every key another replica revokes from this replica's cache."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                keys.clear()  # whatever was revoked while not subscribed is no longer cached
                if ready is not None:
                    ready.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        keys.forget_key_id(message["data"].decode())
        except (RedisError, OSError) as exc:
            log.warning("gateway.revocations_unsubscribed", error=type(exc).__name__, retry_in=1)
            await asyncio.sleep(1)
