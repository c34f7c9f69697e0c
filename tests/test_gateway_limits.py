"""What the gateway refuses before it does any work: oversized bodies (from the declared
length, or as soon as a streamed body passes the limit) and clients that keep presenting
unknown keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gateway import proxy
from gateway.keys import hash_key
from gateway.limits import KeyCache, RateLimiter
from pentad.identity import Caller, Role
from tests.test_gateway import Platform, start_platform

SERVICE_LIMIT = 200_000  # this module's PENTAD_MAX_BODY_BYTES; the gateway's own routes keep 64 KiB
OWN_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
async def platform(databases, tmp_path_factory) -> AsyncIterator[Platform]:
    async with AsyncExitStack() as stack:
        yield await start_platform(stack, databases, tmp_path_factory.mktemp("gw-limits"),
                                   services=("integration",), max_body_bytes=SERVICE_LIMIT)


async def _exchange(url: str, head: bytes, body_bytes: bytes = b"") -> tuple[int, dict[bytes, bytes], bool]:
    """Sends ``head`` and ``body_bytes`` on a raw connection and never the rest: the status,
    headers and whether the gateway then closed the connection. Times out if it waits for more."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + body_bytes)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        lines = answer.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:] if b": " in line)
        await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), timeout=10)
        closed = await asyncio.wait_for(reader.read(1), timeout=10) == b""
        return int(lines[0].split()[1]), headers, closed
    finally:
        writer.close()


def _head(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: gateway", "Content-Type: application/json", *extra,
                        "", ""]).encode()


@pytest.mark.parametrize(("path", "length", "auth"), [
    ("/integration/stakeholders", 200 * 1024 * 1024, False),  # a service, no key at all
    ("/integration/stakeholders", SERVICE_LIMIT + 1, True),
    ("/gateway/keys", 200 * 1024 * 1024, True),  # the gateway's own route, a valid key
    ("/gateway/keys", OWN_LIMIT + 1, False),
    ("/nowhere/at/all", 200 * 1024 * 1024, True),  # an unknown path
    ("/health", OWN_LIMIT + 1, False),  # an open one
])
async def test_a_declared_length_past_the_limit_is_413_before_any_of_the_body_is_read(
        platform: Platform, path: str, length: int, auth: bool) -> None:
    headers = [f"Content-Length: {length}", "Idempotency-Key: big-1"]
    if auth:
        headers.append(f"Authorization: Bearer {platform.admin_key}")
    # A few bytes of a body that never comes: an answer at all proves the rest was not awaited.
    status, answer, closed = await _exchange(platform.url, _head(path, *headers), b'{"name": ')
    assert status == 413 and answer[b"content-type"] == b"application/problem+json"
    assert closed and answer[b"connection"] == b"close"


@pytest.mark.parametrize(("path", "limit"), [("/gateway/keys", OWN_LIMIT),
                                             ("/integration/stakeholders", SERVICE_LIMIT),
                                             ("/nowhere", OWN_LIMIT)])
async def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit(platform: Platform, path: str,
                                                                         limit: int) -> None:
    chunk = b"x" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // len(chunk) + 2))
    head = _head(path, "Transfer-Encoding: chunked", f"Authorization: Bearer {platform.admin_key}")
    # No last chunk (0\r\n\r\n): a gateway that read on would wait for ever.
    status, _, closed = await _exchange(platform.url, head, chunks)
    assert status == 413 and closed


async def test_bodies_within_a_limit_are_not_refused_for_their_size(platform: Platform) -> None:
    async with platform.client(platform.admin_key) as c:
        service = await c.post("/integration/whoami", content=b"x" * (OWN_LIMIT + 1))
        own = await c.post("/gateway/keys", json={"name": "n" * 60_000, "role": "staff"})
    assert service.status_code == 405  # past the gateway routes' limit, within the services'
    assert own.status_code == 422 and own.json()["errors"][0]["field"] == "name"


async def test_unknown_keys_are_limited_per_address_without_lookups(databases, tmp: Path, monkeypatch) -> None:
    looked_up: list[str] = []
    resolve = proxy.resolve

    async def counted(session, *, key_hash: str):
        looked_up.append(key_hash)
        return await resolve(session, key_hash=key_hash)

    monkeypatch.setattr(proxy, "resolve", counted)
    async with AsyncExitStack() as stack:
        # No key cache: every request would be a lookup, were it not for the failure limit.
        p = await start_platform(stack, databases, tmp, services=("dmo",), key_cache_seconds=0,
                                 auth_failures_per_minute=0.5, auth_failures_burst=3)
        async with httpx.AsyncClient(base_url=p.url, timeout=10) as c:

            async def get(key: str, path: str = "/dmo/whoami") -> httpx.Response:
                return await c.get(path, headers={"Authorization": f"Bearer {key}"})

            assert [(await get(p.admin_key)).status_code for _ in range(5)] == [200] * 5  # not failures
            assert [(await get(f"pk_guess_{i}")).status_code for i in range(3)] == [401] * 3
            limited = [await get(f"pk_guess_{i}", path) for i, path in [(3, "/dmo/whoami"), (4, "/gateway/keys"),
                                                                         (0, "/dmo/whoami")]]
            assert {r.status_code for r in limited} == {429}
            assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
            assert limited[0].headers["content-type"] == "application/problem+json"
            assert (await get(p.admin_key)).status_code == 200  # the known key from the same address
            assert (await c.get("/dmo/whoami")).status_code == 401  # no key: nothing to look up, not limited
    assert [h for h in looked_up if h != hash_key(p.admin_key)] == [hash_key(f"pk_guess_{i}") for i in range(3)]


def test_failure_buckets_stay_bounded_however_many_addresses() -> None:
    limiter = RateLimiter(per_second=1 / 60, burst=2, max_keys=100)
    for i in range(10_000):
        limiter.take(f"10.0.{i // 256}.{i % 256}", now=0.0)
        assert len(limiter._buckets) <= 100
    assert limiter.take("192.0.2.1", now=0.0) == 0.0 and limiter.wait("192.0.2.1", now=0.0) == 0.0
    assert limiter.take("192.0.2.1", now=0.0) == 0.0 and limiter.wait("192.0.2.1", now=0.0) == 60.0
    assert limiter.take("192.0.2.1", now=0.0) == 60.0 and limiter.wait("192.0.2.1", now=30.0) == 30.0


def test_a_flood_of_unknown_keys_never_pushes_out_the_known_ones() -> None:
    cache = KeyCache(ttl=60, max_entries=100)
    good = Caller("key_good", Role.staff)
    cache.put("good", good)
    for i in range(10_000):
        cache.put(f"bad{i}", None)
    assert len(cache) <= 201
    assert cache.get("good") == (True, good) and cache.seen_valid("good")
    assert cache.get("bad9999") == (True, None) and not cache.seen_valid("bad9999")
    assert cache.get("bad0") == (False, None)  # the oldest unknown ones went first
