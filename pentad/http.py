"""Pure ASGI middleware shared by the gateway and the services.

``RequestContext`` keeps or makes the request id, binds it to every log line, echoes it
in ``X-Request-ID`` and writes one access line per request. ``VerifyIdentity`` (services
only) refuses any call the gateway did not sign.
"""

from __future__ import annotations

import contextvars
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from pentad.errors import problem_body
from pentad.identity import IDENTITY_HEADERS, BadSignature, verify

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT_OK = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")  # W3C Trace Context
# Outgoing calls read these so the request id and trace follow the request.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
current_traceparent: contextvars.ContextVar[str] = contextvars.ContextVar("traceparent", default="")

log = structlog.get_logger("pentad.http")


def new_request_id() -> str:
    return os.urandom(16).hex()


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


def keep_or_make_request_id(value: str | None) -> str:
    return value if value and _REQUEST_ID_OK.match(value) else new_request_id()


async def send_problem(send: Send, status: int, slug: str, title: str, detail: str, *,
                       request_id: str = "", extra_headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = problem_body(status, slug, title, detail, request_id=request_id or None)
    # X-Request-ID itself is added by RequestContext, which wraps every app.
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = keep_or_make_request_id(header(scope, b"x-request-id"))
        # A per-request copy of the lifespan state: request-scoped items (caller, session)
        # go in here, and not every server copies it for us.
        traceparent = header(scope, b"traceparent")
        if traceparent and not _TRACEPARENT_OK.match(traceparent):
            traceparent = None  # malformed: neither logged nor forwarded
        scope["state"] = {**scope.get("state", {}), "request_id": request_id, "traceparent": traceparent}
        current_request_id.set(request_id)
        current_traceparent.set(traceparent or "")
        if traceparent:
            structlog.contextvars.bind_contextvars(request_id=request_id, traceparent=traceparent)
        else:
            structlog.contextvars.bind_contextvars(request_id=request_id)
        rid = request_id.encode()
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not answered:
                raise
            # The error is answered (a 500 problem) and logged with this request id. Raising
            # on would only make the server drop the keep-alive connection, and the gateway
            # could hand that connection to the next caller's request.
        finally:
            if self.access_log:
                log.info("request", method=scope["method"], path=scope["path"], status=status,
                         duration_ms=round((time.perf_counter() - start) * 1000, 3))
            structlog.contextvars.unbind_contextvars("request_id", "traceparent")


# Probes and the gateway's OpenAPI merge must work without a caller.
OPEN_PATHS = frozenset({"/health/live", "/health/ready", "/openapi.json"})


class VerifyIdentity:
    def __init__(self, app: ASGIApp, *, secret: bytes, max_age: int) -> None:
        self.app = app
        self.secret = secret
        self.max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        found = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                 if k.decode("latin-1") in IDENTITY_HEADERS}
        raw_path: bytes = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        query: bytes = scope.get("query_string") or b""
        try:
            state["caller"] = verify(self.secret, method=scope["method"],
                                     path=(raw_path + b"?" + query if query else raw_path).decode("latin-1"),
                                     headers=found, request_id=state.get("request_id", ""),
                                     max_age=self.max_age)
        except BadSignature as exc:
            await send_problem(send, 401, "unauthenticated", "Unauthenticated",
                               f"Call this service through the gateway ({exc}).",
                               request_id=state.get("request_id", ""))
            return
        await self.app(scope, receive, send)
