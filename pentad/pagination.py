"""Cursor pagination: ``?limit=`` (default 50, max 500) and an opaque ``?cursor=``.

Keyset on the id column (ids are time-ordered), so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import FieldError, Invalid

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    after_id: str | None
    raw_cursor: str | None = None  # for lists with their own keyset (not by id)


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        decoded = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not decoded or not decoded.isprintable():
            raise ValueError("empty cursor or control characters")
        return decoded
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("The cursor is not one this API gave out.",
                      errors=[FieldError(field="query.cursor", message="invalid cursor",
                                         value=cursor[:100])]) from None


def _page_params(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 cursor: Annotated[str | None, Query(max_length=512)] = None) -> PageParams:
    return PageParams(limit=limit, after_id=decode_cursor(cursor) if cursor else None, raw_cursor=cursor)


Paging = Annotated[PageParams, Depends(_page_params)]


async def paginate(session: AsyncSession, stmt: sa.Select[Any], id_column: Any,
                   paging: PageParams) -> tuple[Sequence[Any], str | None]:
    """Rows of one page (scalars of ``stmt``) and the cursor of the next, if any."""
    if paging.after_id is not None:
        stmt = stmt.where(id_column > paging.after_id)
    rows = (await session.scalars(stmt.order_by(id_column).limit(paging.limit + 1))).all()
    if len(rows) > paging.limit:
        rows = rows[: paging.limit]
        return rows, encode_cursor(getattr(rows[-1], id_column.key))
    return rows, None
