"""Transactional outbox and the ordered event feed every service serves.

Service code calls ``record(session, ...)``; the events are written by ``flush`` in the
same transaction as the change, just before the commit at the edge, so an event exists
if and only if its change does. ``seq`` order is commit order: on PostgreSQL writers of
events take a transaction-level advisory lock before inserting, so no transaction can
commit a lower ``seq`` after a consumer has read a higher one; SQLite has one writer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import Database, dialect_of, json_dumps, lock_key, sent_outside_execute
from pentad.errors import FieldError, Invalid
from pentad.ids import new_id
from pentad.metrics import OUTBOX_EVENTS
from pentad.pagination import decode_cursor, encode_cursor
from pentad.tables import outbox_events

_PENDING = "pentad.outbox"


def record(session: AsyncSession, *, type: str, subject: str | None, data: dict[str, Any]) -> None:
    """Queue an event; it is written with the transaction and only if it commits."""
    session.info.setdefault(_PENDING, []).append((type, subject, data))


def pending(session: AsyncSession) -> list[tuple[str, str | None, dict[str, Any]]]:
    return list(session.info.get(_PENDING, ()))


_COLUMNS = ("id", "type", "source", "subject", "time", "data")
# PostgreSQL: the lock and the first event in one round trip (issue 13), the row selected from
# the lock's result so the lock is held before the insert draws its ``seq``. Sent as the
# driver's SQL: SQLAlchemy's compiled-statement path (cache key, bind processors, result set-up)
# cost ~4% of a PATCH's CPU at 16 connections (bench/kit.py); the connection still wraps the
# driver's errors (a dead connection is invalidated, a deadlock retried as any other).
_PG_LOCK_AND_INSERT = (
    "INSERT INTO outbox_events (id, type, source, subject, time, data) "
    "SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::timestamptz, $6::json "
    "FROM (SELECT pg_advisory_xact_lock($7::bigint)) AS outbox_lock")

_INSERT = outbox_events.insert()  # built once: its cache key is then computed once, not per write


async def flush(session: AsyncSession, *, source: str) -> None:
    events = session.info.pop(_PENDING, None)
    if not events:
        return
    now = datetime.now(UTC)
    rows = [{"id": new_id("evt"), "type": t, "source": source, "subject": s, "time": now, "data": d}
            for t, s, d in events]
    if dialect_of(session) == "postgresql":
        first = rows.pop(0)
        conn = await session.connection()
        sent_outside_execute(session)
        await conn.exec_driver_sql(_PG_LOCK_AND_INSERT, (
            first["id"], first["type"], source, first["subject"], now, json_dumps(first["data"]),
            lock_key(f"pentad.outbox:{source}")))
    if rows:  # one row as one execute: executemany's set-up is for many
        await session.execute(_INSERT, rows if len(rows) > 1 else rows[0])
    for t, _, _ in events:  # written in the transaction about to commit (a failed commit is rare)
        OUTBOX_EVENTS.labels(t).inc()


async def head_seq(db: Database) -> int:
    """The last ``seq`` of the feed (0 when empty): what the metrics report at scrape time."""
    async with db.read_sessionmaker() as session:
        head = await session.scalar(sa.select(sa.func.coalesce(sa.func.max(outbox_events.c.seq), 0)))
        return int(head or 0)


class CloudEvent(BaseModel):
    """One event of a feed, in CloudEvents 1.0 JSON form, with its position ``seq``."""

    model_config = ConfigDict(populate_by_name=True)

    seq: int
    specversion: str = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)


class EventPage(BaseModel):
    items: list[CloudEvent]
    next_cursor: str | None = Field(
        None, description="Give it as `cursor` for the next page; null when the feed is drained for now "
                          "(then resume later with `after` = the last `seq` you handled).")


_MAX_SEQ = 2**63 - 1


def resume_after(*, after: int | None, cursor: str | None) -> int:
    """The ``seq`` to read after: from a feed's ``next_cursor`` (opaque, as every list's: a bare
    number is not one, so a client mixing them up gets a 422, not the feed from its start) or
    from ``after``, a ``seq`` the caller stored."""
    if not cursor:  # an empty cursor is no cursor, as in every list
        return after or 0
    if after is not None:
        raise Invalid("Give the next_cursor of the last page, or after, not both.", errors=[FieldError(
            field="query.cursor", value=cursor[:100], message="give cursor or after, not both")])
    (seq,) = decode_cursor(cursor, [outbox_events.c.seq])
    if not 0 <= seq <= _MAX_SEQ:
        raise Invalid("The cursor is not one this API gave out.", errors=[FieldError(
            field="query.cursor", value=cursor[:100], message="invalid cursor")])
    return int(seq)


async def read_feed(session: AsyncSession, *, after: int, limit: int) -> EventPage:
    rows = (await session.execute(
        sa.select(outbox_events).where(outbox_events.c.seq > after)
        .order_by(outbox_events.c.seq).limit(limit)
    )).mappings().all()
    items = [CloudEvent(**{**row, "source": f"/pentad/{row['source']}"}) for row in rows]
    next_cursor = encode_cursor([items[-1].seq]) if len(items) == limit else None
    return EventPage(items=items, next_cursor=next_cursor)
