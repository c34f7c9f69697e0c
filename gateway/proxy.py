"""The proxy path: a raw ASGI handler in front of the key-management app.

Measured on a 2-core box, a FastAPI route calling ``httpx.AsyncClient`` kept only ~5% of
direct throughput (httpcore pool contention, encode/httpx#3215), and raw ASGI over
aiohttp's client about half against a minimal backend. So this path skips FastAPI
routing and pydantic and uses its own keep-alive client (gateway/upstream.py): it
authenticates, rate-limits, signs the caller's identity, forwards the request bytes
and sends back the answer bytes (see bench/gateway.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from prometheus_client import Counter

from gateway.console import is_console_path
from gateway.keys import hash_key, resolve
from gateway.limits import KeyCache, RateLimiter
from gateway.shared import SharedRateLimiter
from gateway.upstream import CannotConnect, ExchangeError, NoAnswerInTime, Upstreams
from pentad.db import Database, write_intent
from pentad.errors import RETRY_LATER_SECONDS
from pentad.http import (
    PROBES,
    URL_NUL,
    ASGIApp,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    replaying,
    send_problem,
)
from pentad.identity import Caller, sign, strip_identity
from pentad.state import State, state_of

log = structlog.get_logger("pentad.gateway")

RATE_LIMITED = Counter("pentad_gateway_rate_limited", "Requests refused with a 429, by which limit.", ["limit"])
_OVER_KEY_RATE = RATE_LIMITED.labels("key")
_UNKNOWN_KEYS = RATE_LIMITED.labels("unknown_keys_per_address")
UPSTREAM_ERRORS = Counter("pentad_gateway_upstream_errors",
                          "Proxied requests a service did not answer properly, by service and kind.",
                          ["service", "kind"])

# Connection-level headers are not forwarded (RFC 9110 §7.6.1); nor are client credentials.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                         b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"expect",
                         b"authorization", b"x-request-id", b"content-length", b"traceparent",
                         b"x-forwarded-prefix"})
_HOP_BY_HOP_RESPONSE = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                                  b"x-request-id", b"server", b"date"})
# The gateway's own keyless paths: the probes, every service's health, the API documents.
GATEWAY_OPEN_PATHS = PROBES | {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"}


@dataclass
class GatewayState:
    db: Database
    http: httpx.AsyncClient  # the gateway's own rare calls: health, OpenAPI, typed clients
    upstreams: dict[str, list[str]]  # each service's URLs (several for several replicas)
    pools: dict[str, Upstreams]  # the proxy path: per service, a pool per URL
    secret: bytes
    keys: KeyCache
    limiter: RateLimiter  # per API key, this replica's own
    failures: RateLimiter  # unknown keys, per client address
    max_body: int  # for the services
    max_own_body: int  # for the gateway's own routes and unknown paths
    openapi_cache: tuple[float, dict[str, Any]] | None = None
    # With PENTAD_REDIS_URL: shared per-key limits and revocations (gateway/shared.py).
    redis: Any = None
    shared_limiter: SharedRateLimiter | None = None
    # Each service's own address, and the path the caller knows it by.
    origins: dict[bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.origins = {url.encode(): f"/{name}".encode() for name, urls in self.upstreams.items() for url in urls}

    async def authenticate(self, scope: Scope) -> Caller | None:
        """The caller the presented key stands for, None without a valid key; ``Throttled``
        when this client address keeps presenting unknown keys (each may cost a query)."""
        presented = _bearer(scope)
        if presented is None:
            return None
        key_hash = hash_key(presented)
        address = client[0] if (client := scope.get("client")) else ""
        known, caller = self.keys.get(key_hash)
        if not known:
            wait = self.failures.wait(address)
            if wait and not self.keys.seen_valid(key_hash):
                raise Throttled(wait)  # no lookup; a key that was valid here is still looked up
            caller = await self._resolve(key_hash)
        if caller is None and (wait := self.failures.take(address)):
            raise Throttled(wait)
        return caller

    async def _resolve(self, key_hash: str) -> Caller | None:
        token = write_intent.set(False)
        try:
            async with self.db.read_sessionmaker() as session:
                caller = await resolve(session, key_hash=key_hash)
        finally:
            write_intent.reset(token)
        self.keys.put(key_hash, caller)
        return caller


class Throttled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"retry after {wait:.1f} s")
        self.wait = wait


def _bearer(scope: Scope) -> str | None:
    for k, v in scope["headers"]:
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _declared_length(scope: Scope) -> int:
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return 0  # the server refuses a malformed Content-Length before we see it
    return 0


def _instance(scope: Scope) -> str:
    """A problem's ``instance``: the path the caller used (here, the gateway's own)."""
    path: str = scope["path"]
    return path


def _retry_after(wait: float) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(max(1, round(wait + 0.5))).encode())]


def public_location(value: bytes, prefix: bytes, origins: dict[bytes, bytes]) -> bytes:
    """A service's ``Location`` as the caller must see it: under the service's prefix, and
    never naming a service's own address."""
    if value.startswith(b"/"):
        return prefix + value
    for origin, public in origins.items():
        if value.startswith(origin):
            rest = value[len(origin):]
            if not rest or rest[:1] in (b"/", b"?"):
                return public + (rest if rest.startswith(b"/") else b"/" + rest)
    return value


class GatewayProcessState(State):
    gw: GatewayState


def gateway_state(scope: Any) -> GatewayState:
    gw: GatewayState = state_of(scope)["gw"]  # type: ignore[typeddict-item]
    return gw


async def _too_large(send: Send, limit: int, request_id: str, instance: str) -> None:
    # Answered without reading the body (or the rest of it), so the connection is closed
    # after: the unread bytes are not a next request.
    await send_problem(send, 413, "payload-too-large", "Payload too large",
                       f"Request bodies here are limited to {limit} bytes.", request_id=request_id, instance=instance,
                       extra_headers=[(b"connection", b"close")])


# A streamed body past its limit is read on, and thrown away, for at most this long and this
# much before the 413 goes out: a client that writes its whole body before reading (most do)
# then gets the answer, where closing on unread bytes would reset the connection under it
# (nginx's lingering close). A client that stops sending gets the 413 when the time is up.
LINGER_SECONDS = 0.5
LINGER_BYTES = 16 * 1024 * 1024


async def _cut_off(receive: Receive, send: Send, limit: int, request_id: str, instance: str) -> None:
    async def discard() -> None:
        discarded = 0
        while discarded <= LINGER_BYTES:
            message = await receive()
            discarded += len(message.get("body", b""))
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return

    with contextlib.suppress(ClientDisconnected, TimeoutError):
        await asyncio.wait_for(discard(), LINGER_SECONDS)
    await _too_large(send, limit, request_id, instance)


class Gateway:
    """Dispatches: service prefixes to the proxy, everything else to ``admin_app``.

    Body sizes are checked here, first: a declared ``Content-Length`` past the path's limit
    is a 413 before the key is even looked at and before a byte of the body is read; a
    body of unknown length is cut off as soon as it passes the limit.
    """

    def __init__(self, admin_app: ASGIApp) -> None:
        self.admin_app = admin_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.admin_app(scope, receive, send)
            return
        gw = gateway_state(scope)
        # The prefix is read off the raw path, the one that is cut and forwarded: an encoded
        # prefix or slash (/%69ntegration, /integration%2F...) is simply not a service path.
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        slash = raw.find(b"/", 1)
        prefix = (raw[1:slash] if slash > 0 else raw[1:]).decode("latin-1")
        pool = gw.pools.get(prefix)
        limit = gw.max_own_body if pool is None else gw.max_body
        if _declared_length(scope) > limit:
            await _too_large(send, limit, state_of(scope)["request_id"], _instance(scope))
        elif pool is None:
            await self._own(scope, receive, send, gw)
        else:
            await self._service(scope, receive, send, gw, pool, prefix, raw[slash:] if slash > 0 else b"/")

    async def _own(self, scope: Scope, receive: Receive, send: Send, gw: GatewayState) -> None:
        """The gateway's own routes (and unknown paths): bodies are small, read here whole."""
        path: str = scope["path"]
        # The console signs its users in itself (a session cookie) and calls the API with their key.
        if not (path in GATEWAY_OPEN_PATHS or path.startswith("/docs/static/") or is_console_path(path)):
            if await self._admit(scope, send, gw) is None:
                return
        # The routes behind take a problem's `instance` prefix from this header: no caller sets it.
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"x-forwarded-prefix"]
        body = await read_body(receive, gw.max_own_body)
        if body is None:
            await _cut_off(receive, send, gw.max_own_body, state_of(scope)["request_id"], _instance(scope))
            return
        await self.admin_app(scope, replaying(body, receive), send)

    async def _service(self, scope: Scope, receive: Receive, send: Send, gw: GatewayState, pool: Upstreams,
                       prefix: str, rest: bytes) -> None:
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        if URL_NUL in raw or URL_NUL in scope.get("query_string", b""):
            await send_problem(send, 422, "validation-error", "Validation error",
                               "NUL characters are not allowed in paths or queries.",
                               request_id=state_of(scope)["request_id"], instance=_instance(scope))
            return
        scope["pentad.route"] = pool.route
        caller = None
        if rest.decode("latin-1") not in PROBES and (caller := await self._admit(scope, send, gw)) is None:
            return
        await self._proxy(scope, receive, send, gw, pool, len(prefix) + 1, caller)

    @staticmethod
    async def _admit(scope: Scope, send: Send, gw: GatewayState) -> Caller | None:
        """The authenticated caller within its rate, or None once refused (401 or 429)."""
        state = state_of(scope)
        try:
            caller = await gw.authenticate(scope)
        except Throttled as exc:
            _UNKNOWN_KEYS.inc()
            await send_problem(send, 429, "rate-limited", "Too many requests",
                               "Too many requests with unknown keys from this address; retry after the given "
                               "seconds.", request_id=state["request_id"], instance=_instance(scope),
                               extra_headers=_retry_after(exc.wait))
            return None
        if caller is None:
            await send_problem(send, 401, "unauthenticated", "Unauthenticated",
                               "Send a valid API key as 'Authorization: Bearer <key>'.",
                               request_id=state["request_id"], instance=_instance(scope),
                               extra_headers=[(b"www-authenticate", b"Bearer")])
            return None
        shared = gw.shared_limiter
        if wait := (await shared.take(caller.key_id) if shared is not None else gw.limiter.take(caller.key_id)):
            _OVER_KEY_RATE.inc()
            await send_problem(send, 429, "rate-limited", "Too many requests",
                               "This key is over its request rate; retry after the given seconds.",
                               request_id=state["request_id"], instance=_instance(scope),
                               extra_headers=_retry_after(wait))
            return None
        state["caller"] = caller
        return caller

    async def _proxy(self, scope: Scope, receive: Receive, send: Send, gw: GatewayState, pool: Upstreams,
                     cut: int, caller: Caller | None) -> None:
        request_id = state_of(scope)["request_id"]
        body = await read_body(receive, gw.max_body)
        if body is None:
            await _cut_off(receive, send, gw.max_body, request_id, _instance(scope))
            return
        full_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string") or b""
        target = full_path[cut:] or b"/"
        if query:
            target += b"?" + query
        # The body is already read whole, so `Expect` is answered here, never passed on; and so
        # are the headers a client names in `Connection` (RFC 9110 7.6.1).
        named = {n.strip().lower() for k, v in scope["headers"] if k == b"connection" for n in v.split(b",")}
        headers = [(k, v) for k, v in strip_identity(scope["headers"]) if k not in _HOP_BY_HOP and k not in named]
        headers.append((b"x-request-id", request_id.encode()))
        headers.append((b"x-forwarded-prefix", full_path[:cut]))  # problems name the path the caller used
        if traceparent := state_of(scope).get("traceparent"):
            headers.append((b"traceparent", traceparent.encode()))
        if client := scope.get("client"):
            headers.append((b"x-forwarded-for", client[0].encode()))
        if caller is not None:
            headers += [(k.encode(), v.encode()) for k, v in sign(
                gw.secret, method=scope["method"], path=target.decode("latin-1"), caller=caller,
                request_id=request_id)]
        try:
            answer = await pool.request(scope["method"].encode(), target, headers, body)
        except NoAnswerInTime:
            UPSTREAM_ERRORS.labels(pool.name, "timeout").inc()
            await self._upstream_failed(send, 504, "upstream-timeout", "Gateway timeout", request_id,
                                        _instance(scope))
            return
        except CannotConnect:
            UPSTREAM_ERRORS.labels(pool.name, "unavailable").inc()
            await self._upstream_failed(send, 503, "service-unavailable", "Service unavailable", request_id,
                                        _instance(scope))
            return
        except ExchangeError:
            UPSTREAM_ERRORS.labels(pool.name, "bad_answer").inc()
            await self._upstream_failed(send, 502, "bad-gateway", "Bad gateway", request_id,
                                        _instance(scope))
            return
        out = [(k, public_location(v, full_path[:cut], gw.origins) if k == b"location" else v)
               for k, v in answer.headers if k not in _HOP_BY_HOP_RESPONSE]
        if scope["method"] == "HEAD":  # no body came: the length is the one the GET would have
            out += [(k, v) for k, v in answer.headers if k == b"content-length"]
        else:
            out.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": out})
        await send({"type": "http.response.body", "body": answer.body})

    @staticmethod
    async def _upstream_failed(send: Send, status: int, slug: str, title: str, request_id: str, instance: str) -> None:
        log.warning("upstream.failed", status=status)
        await send_problem(send, status, slug, title,
                           "The service behind this path did not answer properly; retry later.",
                           request_id=request_id, instance=instance, extra_headers=_retry_after(RETRY_LATER_SECONDS))
