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


async def get_or_raise(session: AsyncSession, model: type[T], key: str, *, noun: str,
                       for_update: bool = False) -> T:
    """The row or the domain's 404. ``for_update`` locks it (PostgreSQL) so concurrent
    changes queue instead of failing on the version check."""
    found = await session.get(model, key, with_for_update=for_update)
    if found is None:
        raise NotFound(f"No {noun} {key!r}.")
    return found
