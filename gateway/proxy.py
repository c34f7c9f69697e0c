"""The proxy path: a raw ASGI handler in front of the key-management app.

Measured on a 2-core box, a FastAPI route calling ``httpx.AsyncClient`` kept only ~5% of
direct throughput (httpcore pool contention, encode/httpx#3215), and raw ASGI over
aiohttp's client about half against a minimal backend. So this path skips FastAPI
routing and pydantic and uses its own keep-alive client (gateway/upstream.py): it
authenticates, rate-limits, signs the caller's identity, forwards the request bytes
and sends back the answer bytes (see bench/gateway.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from gateway.keys import hash_key, resolve
from gateway.limits import KeyCache, RateLimiter
from gateway.upstream import CannotConnect, ExchangeError, NoAnswerInTime, UpstreamPool
from pentad.db import Database, write_intent
from pentad.http import PROBES, URL_NUL, ASGIApp, Receive, Scope, Send, read_body, send_problem
from pentad.identity import Caller, sign, strip_identity
from pentad.state import State, state_of

log = structlog.get_logger("pentad.gateway")

# Connection-level headers are not forwarded (RFC 9110 §7.6.1); nor are client credentials.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                         b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"expect",
                         b"authorization", b"x-request-id", b"content-length", b"traceparent"})
_HOP_BY_HOP_RESPONSE = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length",
                                  b"x-request-id", b"server", b"date"})
# The gateway's own keyless paths: the probes, every service's health, the API documents.
GATEWAY_OPEN_PATHS = PROBES | {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"}


@dataclass
class GatewayState:
    db: Database
    http: httpx.AsyncClient  # the gateway's own rare calls: health, OpenAPI, typed clients
    upstreams: dict[str, str]
    pools: dict[str, UpstreamPool]  # the proxy path, one per service
    secret: bytes
    keys: KeyCache
    limiter: RateLimiter
    max_body: int
    openapi_cache: tuple[float, dict[str, Any]] | None = None

    async def authenticate(self, scope: Scope) -> Caller | None:
        presented = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    presented = token.strip()
                break
        if presented is None:
            return None
        key_hash = hash_key(presented)
        known, caller = self.keys.get(key_hash)
        if known:
            return caller
        token = write_intent.set(False)
        try:
            async with self.db.sessionmaker() as session:
                caller = await resolve(session, key_hash=key_hash)
        finally:
            write_intent.reset(token)
        self.keys.put(key_hash, caller)
        return caller


class GatewayProcessState(State):
    gw: GatewayState


def gateway_state(scope: Any) -> GatewayState:
    gw: GatewayState = state_of(scope)["gw"]  # type: ignore[typeddict-item]
    return gw


class Gateway:
    """Dispatches: service prefixes to the proxy, everything else to ``admin_app``."""

    def __init__(self, admin_app: ASGIApp) -> None:
        self.admin_app = admin_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.admin_app(scope, receive, send)
            return
        state = state_of(scope)
        gw = gateway_state(scope)
        path: str = scope["path"]
        request_id = state["request_id"]
        # The prefix is read off the raw path, the one that is cut and forwarded: an encoded
        # prefix or slash (/%69ntegration, /integration%2F...) is simply not a service path.
        raw: bytes = scope.get("raw_path") or path.encode()
        slash = raw.find(b"/", 1)
        prefix = (raw[1:slash] if slash > 0 else raw[1:]).decode("latin-1")
        base = gw.pools.get(prefix)
        rest = raw[slash:].decode("latin-1") if slash > 0 else "/"
        if base is not None and (URL_NUL in raw or URL_NUL in scope.get("query_string", b"")):
            await send_problem(send, 422, "validation-error", "Validation error",
                               "NUL characters are not allowed in paths or queries.", request_id=request_id)
            return
        if base is not None and rest in PROBES:
            await self._proxy(scope, receive, send, gw, base, len(prefix) + 1, None)
            return
        if base is None and (path in GATEWAY_OPEN_PATHS or path.startswith("/docs/static/")):
            await self.admin_app(scope, receive, send)
            return
        caller = await gw.authenticate(scope)
        if caller is None:
            await send_problem(send, 401, "unauthenticated", "Unauthenticated",
                               "Send a valid API key as 'Authorization: Bearer <key>'.",
                               request_id=request_id, extra_headers=[(b"www-authenticate", b"Bearer")])
            return
        wait = gw.limiter.take(caller.key_id)
        if wait:
            await send_problem(send, 429, "rate-limited", "Too many requests",
                               "This key is over its request rate; retry after the given seconds.",
                               request_id=request_id,
                               extra_headers=[(b"retry-after", str(max(1, round(wait + 0.5))).encode())])
            return
        state["caller"] = caller
        if base is None:
            await self.admin_app(scope, receive, send)
        else:
            await self._proxy(scope, receive, send, gw, base, len(prefix) + 1, caller)

    async def _proxy(self, scope: Scope, receive: Receive, send: Send, gw: GatewayState, pool: UpstreamPool,
                     cut: int, caller: Caller | None) -> None:
        request_id = state_of(scope)["request_id"]
        body = await read_body(receive, gw.max_body)
        if body is None:
            await send_problem(send, 413, "payload-too-large", "Payload too large",
                               f"Request bodies are limited to {gw.max_body} bytes.", request_id=request_id)
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
            await self._upstream_failed(send, 504, "upstream-timeout", "Gateway timeout", request_id)
            return
        except CannotConnect:
            await self._upstream_failed(send, 503, "service-unavailable", "Service unavailable", request_id)
            return
        except ExchangeError:
            await self._upstream_failed(send, 502, "bad-gateway", "Bad gateway", request_id)
            return
        out = [(k, v) for k, v in answer.headers if k not in _HOP_BY_HOP_RESPONSE]
        if any(k == b"location" and v.startswith(b"/") for k, v in out):
            # The service names its own path; the caller knows it under the prefix.
            out = [(k, full_path[:cut] + v if k == b"location" and v.startswith(b"/") else v) for k, v in out]
        out.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": out})
        await send({"type": "http.response.body", "body": answer.body})

    @staticmethod
    async def _upstream_failed(send: Send, status: int, slug: str, title: str, request_id: str) -> None:
        log.warning("upstream.failed", status=status)
        await send_problem(send, status, slug, title,
                           "The service behind this path did not answer properly; retry later.",
                           request_id=request_id)
