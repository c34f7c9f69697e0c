"""What a process keeps for its lifetime (built in the lifespan) and what a request adds.

The lifespan yields a ``State``; every request gets a shallow copy of it (``RequestState``)
in ``scope["state"]``, to which the middleware adds the request id, the verified caller
and, on first use, the database session. ``state_of`` is the one typed way in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, cast

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from pentad.db import Database
    from pentad.identity import Caller
    from pentad.settings import Settings


class State(TypedDict):
    db: Database
    http: httpx.AsyncClient  # the shared client of the typed service clients
    settings: Settings


class RequestState(State, total=False):
    request_id: str
    traceparent: str | None
    caller: Caller
    session: AsyncSession
    retryable: bool  # the request lost a database race: the unit of work may run it again


def state_of(scope: Any) -> RequestState:
    """The request's state (``scope`` is an ASGI scope, or anything with a ``scope``)."""
    return cast(RequestState, getattr(scope, "scope", scope)["state"])
