"""Typed dependency aliases every route uses: ``Session``, ``CurrentCaller``, ``RequireStaff``..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import Forbidden, Unauthenticated
from pentad.identity import Caller, Role
from pentad.settings import Settings
from pentad.state import state_of
from pentad.uow import session_of


# Every dependency is ``async def``: FastAPI runs plain ``def`` ones in a thread pool,
# which measured ~100 us a request on this path.
async def _session(request: Request) -> AsyncSession:
    return session_of(request.scope)


async def _caller(request: Request) -> Caller:
    caller = state_of(request).get("caller")
    if caller is None:
        raise Unauthenticated("No caller identity on this request.")
    return caller


async def _settings(request: Request) -> Settings:
    return state_of(request)["settings"]


async def _http(request: Request) -> httpx.AsyncClient:
    return state_of(request)["http"]


Session = Annotated[AsyncSession, Depends(_session)]
CurrentCaller = Annotated[Caller, Depends(_caller)]
CurrentSettings = Annotated[Settings, Depends(_settings)]
HttpClient = Annotated[httpx.AsyncClient, Depends(_http)]
IfMatch = Annotated[str | None, Header(description="The ETag you read; a stale one is a 412.")]


def require(*roles: Role) -> Callable[..., Any]:
    allowed = frozenset(roles)

    async def check(caller: CurrentCaller) -> Caller:
        if caller.role not in allowed:
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}.")
        return caller

    return check


RequireStaff = Annotated[Caller, Depends(require(Role.admin, Role.staff))]
RequireAdmin = Annotated[Caller, Depends(require(Role.admin))]
