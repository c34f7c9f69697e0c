"""Typed dependency aliases every route uses: ``Session``, ``CurrentCaller``, ``RequireStaff``..."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import httpx
from fastapi import Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import FieldError, Forbidden, Invalid, Unauthenticated
from pentad.identity import Caller, Role
from pentad.schemas import IsoDate
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

    # Reads the caller itself rather than through ``CurrentCaller``: FastAPI resolves every
    # sub-dependency on every request (inspecting it anew), and every write route has one of these.
    async def check(request: Request) -> Caller:
        caller = await _caller(request)
        if caller.role not in allowed:
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}.")
        return caller

    return check


RequireStaff = Annotated[Caller, Depends(require(Role.admin, Role.staff))]
RequireAdmin = Annotated[Caller, Depends(require(Role.admin))]


@dataclass(frozen=True, slots=True)
class DateRange:
    from_: date | None
    to: date | None


async def _date_range(from_: Annotated[IsoDate | None, Query(alias="from", description="First day, inclusive.")] = None,
                      to: Annotated[IsoDate | None, Query(description="Last day, inclusive.")] = None) -> DateRange:
    if from_ is not None and to is not None and to < from_:
        raise Invalid("The range ends before it starts.", errors=[
            FieldError(field="query.to", message="must not be before `from`", value=to.isoformat())])
    return DateRange(from_, to)


# ``?from=&to=`` on a list: both optional, in order when both are given (a reversed range is a 422).
Dates = Annotated[DateRange, Depends(_date_range)]
