"""Cursor pagination: ``?limit=`` (default 50, max 500) and an opaque ``?cursor=``.

Keyset on one or more columns (ids are time-ordered, so by id is by creation), so pages
stay stable while rows are added. The cursor is the last row's key, base64url-encoded:
the id itself for one column, a JSON list for several.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import orjson
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
    cursor: str | None = None


def _bad_cursor(cursor: str) -> Invalid:
    return Invalid("The cursor is not one this API gave out.",
                   errors=[FieldError(field="query.cursor", message="invalid cursor", value=cursor[:100])])


def encode_cursor(key: Sequence[Any]) -> str:
    raw = str(key[0]).encode() if len(key) == 1 else orjson.dumps(list(key), default=str)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[Any]) -> tuple[Any, ...]:
    """The key a cursor holds, typed like ``columns``; a 422 for anything this API did not give out."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not raw or not raw.isprintable():
            raise ValueError("empty cursor or control characters")
        values = [raw] if len(columns) == 1 else orjson.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong shape")
        return tuple(_typed(v, c) for v, c in zip(values, columns, strict=True))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _bad_cursor(cursor) from None


def _typed(value: Any, column: Any) -> Any:
    kind = column.type.python_type
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is int and isinstance(value, str):
        return int(value)  # a one-column integer key (a sequence) travels as its digits
    if not isinstance(value, kind):
        raise TypeError(f"cursor value {value!r} is not a {kind.__name__}")
    return value


async def _page_params(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 cursor: Annotated[str | None, Query(max_length=512)] = None) -> PageParams:
    return PageParams(limit=limit, cursor=cursor or None)  # an empty cursor is no cursor


Paging = Annotated[PageParams, Depends(_page_params)]


async def paginate(session: AsyncSession, stmt: sa.Select[Any], key: Any | Sequence[Any],
                   paging: PageParams) -> tuple[Sequence[Any], str | None]:
    """Rows of one page (scalars of ``stmt``, ordered by ``key``: a column or several) and the
    cursor of the next page, if any."""
    columns: list[Any] = list(key) if isinstance(key, (list, tuple)) else [key]
    if paging.cursor is not None:
        after = decode_cursor(paging.cursor, columns)
        if len(columns) == 1:
            stmt = stmt.where(columns[0] > after[0])
        else:
            stmt = stmt.where(sa.tuple_(*columns) > sa.tuple_(*(sa.literal(v, c.type) for v, c in
                                                                 zip(after, columns, strict=True))))
    rows = (await session.scalars(stmt.order_by(*columns).limit(paging.limit + 1))).all()
    if len(rows) <= paging.limit:
        return rows, None
    rows = rows[: paging.limit]
    return rows, encode_cursor([getattr(rows[-1], c.key) for c in columns])
