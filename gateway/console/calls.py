"""The console's only way to data: the gateway's own public API, called in-process with the
signed-in key, exactly as an outside client would call it over HTTP (no database reads).

The call goes through the whole public stack (request context, key check, rate limit, the
proxy to the service), so the console can never see or do more than its key may.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from gateway.proxy import Gateway
from pentad.http import Receive, RequestContext, Scope, Send

# What a request adds to the lifespan state: never carried into the nested call.
_PER_REQUEST = frozenset({"request_id", "traceparent", "caller", "session", "retryable"})
MAX_ITEMS = 2000  # a listing the console reads whole stops here (said on the page)


class ApiError(Exception):
    """The API answered an error: its problem, for the page to show."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', '')}")
        self.status = status
        self.problem = dict(problem)

    @property
    def messages(self) -> list[str]:
        found = [f"{e.get('field')}: {e.get('message')}" for e in self.problem.get("errors") or []
                 if isinstance(e, dict)]
        return found or [str(self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}")]


class SignedOut(ApiError):
    """The key is no longer valid (revoked): the session ends."""


@dataclass
class Api:
    client: httpx.AsyncClient
    request_id: str

    @classmethod
    def of(cls, request: Request, key: str) -> Api:
        state = {k: v for k, v in request.scope["state"].items() if k not in _PER_REQUEST}
        public = RequestContext(Gateway(request.app), access_log=state["settings"].access_log)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(state)
            # In a copy of the context: the nested request binds and unbinds its own request
            # id (and write intent), which must not undo the console request's.
            await asyncio.create_task(public(scope, receive, send), context=contextvars.copy_context())

        client_host = request.client.host if request.client else "127.0.0.1"
        transport = httpx.ASGITransport(app=app, client=(client_host, 0))  # type: ignore[arg-type]
        request_id = request.scope["state"].get("request_id", "")
        client = httpx.AsyncClient(transport=transport, base_url="http://console.internal",
                                   headers={"authorization": f"Bearer {key}", "x-request-id": request_id})
        return cls(client=client, request_id=request_id)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, *, params: Any = None, json: Any = None,
                   headers: Mapping[str, str] | None = None) -> httpx.Response:
        answer = await self.client.request(method, path, params=params, json=json, headers=headers)
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"title": answer.reason_phrase}
            raise (SignedOut if answer.status_code == 401 else ApiError)(answer.status_code, problem)
        return answer

    async def get(self, path: str, **params: Any) -> Any:
        return (await self.call("GET", path, params=params or None)).json()

    async def all(self, path: str, **params: Any) -> tuple[list[dict[str, Any]], bool]:
        """Every item of a listing (up to MAX_ITEMS), and whether it was cut there."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.get(path, **params, limit=500, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items, False
            if len(items) >= MAX_ITEMS:
                return items, True

    async def post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        headers = {"idempotency-key": "console-" + secrets.token_urlsafe(16)} if idempotent else None
        answer = await self.call("POST", path, json=body, headers=headers)
        return answer.json() if answer.content else None

    async def patch(self, path: str, body: Any) -> Any:
        return (await self.call("PATCH", path, json=body)).json()

    async def gather(self, *calls: Any) -> list[Any]:
        return list(await asyncio.gather(*calls))
