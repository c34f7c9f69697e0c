"""gateway/shared.py against the Redis on 127.0.0.1:6379: limits and revocations that
several gateway replicas share. (tests/test_replicas.py runs it with real gateway processes.)"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from gateway import shared
from gateway.limits import KeyCache, RateLimiter
from pentad.identity import Caller, Role

REDIS_URL = os.environ.get("PENTAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    client = shared.connect(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable ({exc})")
    yield client
    await client.aclose()


def _limiter(redis: aioredis.Redis, per_second: float, burst: int) -> shared.SharedRateLimiter:
    return shared.SharedRateLimiter(redis, per_second=per_second, burst=burst,
                                    fallback=RateLimiter(per_second=per_second, burst=burst))


async def test_two_replicas_share_one_bucket_per_key(redis: aioredis.Redis) -> None:
    key = f"key_{uuid.uuid4().hex}"
    a, b = _limiter(redis, 10, 20), _limiter(redis, 10, 20)
    started = asyncio.get_running_loop().time()
    allowed = sum([await (a if i % 2 else b).take(key) == 0 for i in range(100)])
    elapsed = asyncio.get_running_loop().time() - started
    # One bucket of 20 (plus what refills meanwhile), not 20 per replica.
    assert 20 <= allowed <= 20 + 10 * elapsed + 1
    wait = await a.take(key)
    assert 0 < wait <= 0.1 + 1e-6
    other = f"key_{uuid.uuid4().hex}"
    assert await b.take(other) == 0, "each key has its own bucket"


async def test_a_replica_spends_a_lease_without_asking_redis(redis: aioredis.Redis) -> None:
    key = f"key_{uuid.uuid4().hex}"
    limiter = _limiter(redis, 200, 400)  # a lease of 10 tokens
    assert limiter.lease == 10
    assert await limiter.take(key) == 0
    tokens = float(await redis.hget(shared.BUCKETS + key, "tokens"))
    for _ in range(9):
        assert await limiter.take(key) == 0
    assert float(await redis.hget(shared.BUCKETS + key, "tokens")) == tokens, "spent locally"
    assert await limiter.take(key) == 0
    assert float(await redis.hget(shared.BUCKETS + key, "tokens")) < tokens


async def test_without_redis_answering_the_replica_falls_back_to_its_own_buckets() -> None:
    dead = shared.connect("redis://127.0.0.1:1/0")
    limiter = _limiter(dead, 1, 2)
    assert [await limiter.take("k") == 0 for _ in range(3)] == [True, True, False]
    await dead.aclose()


async def test_a_revocation_reaches_every_replica_and_a_racing_lookup_does_not_bring_it_back(
        redis: aioredis.Redis) -> None:
    caller = Caller(f"key_{uuid.uuid4().hex}", Role.staff)
    replicas = [KeyCache(ttl=60), KeyCache(ttl=60)]
    ready = [asyncio.Event(), asyncio.Event()]
    followers = [asyncio.create_task(shared.follow_revocations(redis, cache, ready=event))
                 for cache, event in zip(replicas, ready, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 5)
        for cache in replicas:
            cache.put("hash", caller)
            assert cache.get("hash") == (True, caller)
        await shared.publish_revocation(redis, caller.key_id)
        for _ in range(100):
            if all(cache.get("hash") == (False, None) for cache in replicas):
                break
            await asyncio.sleep(0.01)
        assert [cache.get("hash") for cache in replicas] == [(False, None)] * 2
        # A lookup that began before the revocation committed answers "valid": not cached.
        replicas[1].put("hash", caller)
        assert replicas[1].get("hash") == (False, None)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


async def test_a_replica_that_resubscribes_forgets_every_cached_key(redis: aioredis.Redis) -> None:
    cache = KeyCache(ttl=60)
    cache.put("hash", Caller("key_x", Role.staff))
    ready = asyncio.Event()
    follower = asyncio.create_task(shared.follow_revocations(redis, cache, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        assert cache.get("hash") == (False, None), "messages may have been missed while unsubscribed"
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
