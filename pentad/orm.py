"""Column sets most tables share: timestamps and a version that is the record's ETag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from pentad.db import UTCDateTime
from pentad.errors import NotFound

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Versioned:
    """``version`` bumps on every UPDATE (optimistic locking); it is what ETag/If-Match compare."""

    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


# One prebuilt SELECT per (model, lock): ``Session.get`` builds its statement and computes its
# cache key on every call, ~5% of a PATCH's CPU (issue 13); a kept statement memoizes its key.
_BY_KEY: dict[tuple[type[Any], bool], sa.Select[Any]] = {}


def _by_key(model: type[Any], for_update: bool) -> sa.Select[Any] | None:
    found = _BY_KEY.get((model, for_update))
    if found is None:
        pk = sa.inspect(model).primary_key
        if len(pk) != 1:
            return None  # composite keys keep Session.get
        found = sa.select(model).where(pk[0] == sa.bindparam("pentad_key"))
        _BY_KEY[(model, for_update)] = found = found.with_for_update() if for_update else found
    return found


def _in_session(session: AsyncSession, model: type[Any], key: str) -> bool:
    return sa.inspect(model).identity_key_from_primary_key([key]) in session.identity_map


async def get_or_raise(session: AsyncSession, model: type[T], key: str, *, noun: str,
                       for_update: bool = False) -> T:
    """The row or the domain's 404. ``for_update`` locks it (PostgreSQL) so concurrent
    changes queue instead of failing on the version check.

    As ``Session.get`` (which still serves an object already in the session, the way it
    does); a lock always runs its SELECT ... FOR UPDATE, as ``Session.get`` does too."""
    stmt = _by_key(model, for_update)
    if stmt is None or (not for_update and _in_session(session, model, key)):
        found = await session.get(model, key, with_for_update=for_update)
    else:
        found = (await session.execute(stmt, {"pentad_key": key})).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No {noun} {key!r}.")
    return found  # type: ignore[no-any-return]
