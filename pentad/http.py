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

from pentad.errors import FORWARDED_PREFIX, NUL_DETAIL, problem_body, under_prefix
from pentad.identity import IDENTITY_HEADERS, BadSignature, verify
from pentad.logging import access_line
from pentad.metrics import observe_request
from pentad.state import state_of

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

def new_request_id() -> str:
    return os.urandom(16).hex()


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


def keep_or_make_request_id(value: str | None) -> str:
    return value if value and _REQUEST_ID_OK.match(value) else new_request_id()


def instance_of(scope: Scope) -> str:
    """The path the caller used (a problem's ``instance``): behind the gateway, under its prefix."""
    return under_prefix(scope["path"], header(scope, FORWARDED_PREFIX.encode()))


async def send_problem(send: Send, status: int, slug: str, title: str, detail: str, *,
                       request_id: str = "", instance: str = "",
                       extra_headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = problem_body(status, slug, title, detail, request_id=request_id or None, instance=instance or None)
    # X-Request-ID itself is added by RequestContext, which wraps every app.
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ClientDisconnected(Exception):
    """The client went away before sending the whole body: nothing of it may be acted on."""


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The whole request body, or None as soon as it grows past ``limit`` bytes.

    Raises ``ClientDisconnected`` when the client leaves half-way: a cut body is not a
    shorter request (a truncated JSON list can still parse)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body += message.get("body", b"")
        if limit is not None and len(body) > limit:
            return None
        if not message.get("more_body"):
            return bytes(body)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read) once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BufferedAnswer:
    """An app's answer held back (as ``send``) until the caller decides what to do with it."""

    def __init__(self, status: int = 500, headers: list[tuple[bytes, bytes]] | None = None,
                 body: bytes = b"") -> None:
        self.status = status
        self.headers = headers or []
        self.body = bytearray(body)

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def replay_to(self, send: Send, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
        await send({"type": "http.response.start", "status": self.status, "headers": [*self.headers, *extra]})
        await send({"type": "http.response.body", "body": bytes(self.body)})


# PostgreSQL text cannot hold U+0000 and SQLite should not hold what PostgreSQL refuses; JSON
# writes it as this escape (a raw NUL byte is not valid JSON), a URL as %00.
JSON_NUL = b"\\u0000"
URL_NUL = b"%00"


async def refuse_nul(send: Send, scope: Scope) -> None:
    await send_problem(send, 422, "validation-error", "Validation error", NUL_DETAIL,
                       request_id=state_of(scope).get("request_id", ""), instance=instance_of(scope))


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
        except ClientDisconnected:
            status = 499  # nginx's word for it: the client closed the request, nothing was done
        except Exception:
            if not answered:
                raise
            # The error is answered (a 500 problem) and logged with this request id. Raising
            # on would only make the server drop the keep-alive connection, and the gateway
            # could hand that connection to the next caller's request.
        finally:
            seconds = time.perf_counter() - start
            observe_request(scope, status, seconds)
            if self.access_log:
                access_line(method=scope["method"], path=scope["path"], status=status,
                            duration_ms=round(seconds * 1000, 3))
            structlog.contextvars.unbind_contextvars("request_id", "traceparent")


class HeadAsGet:
    """HEAD answered as the route's GET without the body (RFC 9110 9.3.2): FastAPI routes
    declare GET alone, and its router answers HEAD with a 405. The headers, Content-Length
    included, are the GET's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


# Probes answer anyone, through the gateway too; a service's OpenAPI document is read by the
# gateway (which merges them) without a caller.
PROBES = frozenset({"/health/live", "/health/ready"})
OPEN_PATHS = PROBES | {"/openapi.json"}


class VerifyIdentity:
    def __init__(self, app: ASGIApp, *, secret: bytes, max_age: int) -> None:
        self.app = app
        self.secret = secret
        self.max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        state = state_of(scope)
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
                               request_id=state.get("request_id", ""), instance=instance_of(scope))
            return
        await self.app(scope, receive, send)
