"""Capacity posted by provider systems: checked row by row, upserted as one batch.

A batch of up to 10,000 rows is validated by hand rather than one pydantic model a row:
it is the hot path of the provider feed, each bad row must be reported with its index
and reason while the good ones still apply, and plain checks cost a few microseconds a
row. Concurrent writers never deadlock: on PostgreSQL a binary COPY into a temporary table,
then a provider's batches one at a time, the rows a batch re-confirms updated by one join and
the rest inserted (see ``_PG_APPLY``); on SQLite (one writer) the driver's ``executemany`` of
one upsert, in (specialty, date) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import dialect_of, lock
from pentad.errors import FieldError, Invalid
from pentad.pagination import PageParams, paginate
from services.integration import events
from services.integration.models import Capacity, Stakeholder, StakeholderSpecialty
from services.integration.schemas import (
    MAX_CAPACITY_ROWS,
    PROVIDER_KINDS,
    CapacityListed,
    CapacityResult,
    CapacityRow,
    Coverage,
    Rejected,
    StakeholderStatus,
)

FIELDS = frozenset({"specialty", "date", "slots_total", "slots_available"})
_BAD_DATE = "date must be YYYY-MM-DD"
HORIZON_DAYS = 730  # how far ahead capacity may be posted
MAX_SLOTS = 1_000_000  # a day, for one specialty: anything above is a feed error, not capacity


class Row(NamedTuple):
    """A checked row. A tuple: in (specialty, date) order as it sorts, and a COPY record as it
    is (a frozen dataclass a row was 11% of the ingest's CPU, its sort key 7%: issue 13)."""

    specialty: str
    date: date
    slots_total: int
    slots_available: int


def parse_batch(body: bytes) -> list[Any]:
    """The ``rows`` of a posted batch (orjson: ~3x faster than the stdlib on 10,000 rows)."""
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("The body is not valid JSON.", errors=[FieldError(field="body", message=str(exc))]) from None
    if isinstance(batch, dict) and (unknown := sorted(k for k in batch if k != "rows")):
        raise Invalid("The body has unknown fields.", errors=[
            FieldError(field=name, message="unknown field (this body takes: rows)") for name in unknown[:10]])
    if not isinstance(batch, dict) or not isinstance(batch.get("rows"), list):
        raise Invalid("Send {\"rows\": [...]}.",
                      errors=[FieldError(field="rows", message="a list of rows is required")])
    if len(batch["rows"]) > MAX_CAPACITY_ROWS:
        raise Invalid(f"At most {MAX_CAPACITY_ROWS:,} rows a request.", errors=[FieldError(
            field="rows", message=f"{len(batch['rows'])} rows; split the batch", value=len(batch["rows"]))])
    return batch["rows"]


def check_rows(rows: Sequence[Any], *, vocabulary: frozenset[str] | None, offered: frozenset[str],
               today: date) -> tuple[list[Row], list[Rejected]]:
    """``vocabulary`` None (Segmentation unreachable) still checks against what is offered."""
    earliest, latest = today - timedelta(days=1), today + timedelta(days=HORIZON_DAYS)
    good: list[Row] = []
    rejected: list[Rejected] = []
    seen: dict[tuple[str, date], int] = {}
    days: dict[str, date | str] = {}  # a batch repeats few dates many times: parse each once
    allowed = offered if vocabulary is None else offered & vocabulary
    for index, raw in enumerate(rows):
        row_or_reason = _good(raw, allowed, days, earliest, latest) or _check(
            raw, vocabulary, offered, days, earliest, latest)
        if isinstance(row_or_reason, str):
            rejected.append(Rejected(index=index, reason=row_or_reason))
            continue
        key = (row_or_reason.specialty, row_or_reason.date)
        if key in seen:
            rejected.append(Rejected(index=index, reason=f"duplicate of row {seen[key]} (same specialty and date)"))
            continue
        seen[key] = index
        good.append(row_or_reason)
    return good, rejected


def _good(raw: Any, allowed: frozenset[str], days: dict[str, date | str], earliest: date, latest: date
          ) -> Row | None:
    """The row if it is good, in as few steps as a good row takes; None for ``_check`` to say
    what is wrong (this path only ever accepts what ``_check`` accepts)."""
    try:
        if type(raw) is not dict or len(raw) != 4:
            return None
        specialty, day, total, available = raw["specialty"], raw["date"], raw["slots_total"], raw["slots_available"]
        if not (specialty in allowed and type(day) is str and type(total) is int and type(available) is int
                and 0 <= available <= total <= MAX_SLOTS):
            return None
    except (TypeError, KeyError):  # not an object, a missing field, an unhashable specialty
        return None
    parsed = days.get(day)
    if parsed is None:
        parsed = days[day] = _parse_day(day, earliest, latest)
    return Row(specialty, parsed, total, available) if type(parsed) is date else None


def _check(raw: Any, vocabulary: frozenset[str] | None, offered: frozenset[str], days: dict[str, date | str],
           earliest: date, latest: date) -> Row | str:
    if not isinstance(raw, dict):
        return "a row must be an object"
    if raw.keys() != FIELDS:
        missing, extra = sorted(FIELDS - raw.keys()), sorted(raw.keys() - FIELDS)
        return "; ".join(p for p in (missing and f"missing {', '.join(missing)}",
                                     extra and f"unexpected {', '.join(map(str, extra))}") if p)
    specialty, day, total, available = raw["specialty"], raw["date"], raw["slots_total"], raw["slots_available"]
    if not isinstance(specialty, str) or (vocabulary is not None and specialty not in vocabulary):
        return f"unknown specialty {specialty!r}"
    if specialty not in offered:
        return f"the stakeholder does not offer {specialty!r} (not among its approved specialties)"
    if not isinstance(day, str):
        return _BAD_DATE
    parsed = days.get(day)
    if parsed is None:
        parsed = days[day] = _parse_day(day, earliest, latest)
    if isinstance(parsed, str):
        return parsed
    if type(total) is not int or type(available) is not int:
        return "slots_total and slots_available must be whole numbers"
    if total < 0 or available < 0:
        return "slots cannot be negative"
    if total > MAX_SLOTS:
        return f"slots_total above {MAX_SLOTS:,} a day"
    if available > total:
        return "slots_available exceeds slots_total"
    return Row(specialty, parsed, total, available)


def _parse_day(day: str, earliest: date, latest: date) -> date | str:
    if len(day) != 10 or day[4] != "-" or day[7] != "-":  # fromisoformat also takes 2030-W01-1
        return _BAD_DATE
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return _BAD_DATE
    if not earliest <= parsed <= latest:
        return f"date out of range ({earliest.isoformat()} to {latest.isoformat()})"
    return parsed


async def upsert(session: AsyncSession, *, stakeholder: Stakeholder, rows: Sequence[Any],
                 vocabulary: frozenset[str] | None, now: datetime | None = None) -> CapacityResult:
    now = now or datetime.now(UTC)
    good, rejected = check_rows(rows, vocabulary=vocabulary, offered=frozenset(stakeholder.specialties),
                                today=now.date())
    inserted = updated = 0
    if good:
        write = _upsert_postgresql if dialect_of(session) == "postgresql" else _upsert_portable
        inserted, updated = await write(session, stakeholder.id, good, now)
        events.capacity_updated(session, stakeholder_id=stakeholder.id, rows=good, inserted=inserted,
                                updated=updated, rejected=len(rejected))
    return CapacityResult(inserted=inserted, updated=updated, rejected=rejected)


# PostgreSQL: the batch is COPYed into a per-connection temporary table (binary COPY: the
# cheapest way in, ~4x the unnest statement), then applied in two statements:
#
# 1. a transaction-level advisory lock on the provider: its batches apply one at a time.
#    Only this upsert writes capacity and different providers never share a row, so no two
#    batches ever wait on each other's rows: the next statement may lock rows in whatever
#    order its plan takes without any risk of a deadlock.
# 2. the provider's rows the batch re-confirms are updated from it by one join, and only the
#    batch's other rows are inserted, in (specialty, date) order, with ON CONFLICT DO UPDATE
#    (never dropped, should a row appear meanwhile all the same).
#
# One INSERT ... ON CONFLICT DO UPDATE of every row locked and updated each existing row one at
# a time. Raw SQL alone, 120 batches of 10,000 rows by four writers (four providers), three
# runs each: 153-165k rows/s that way, 203-241k this way (issue 13).
# Counts: inserted are the new rows (``xmax = 0``), updated everything else.
_PG_STAGE = sa.text(
    "CREATE TEMPORARY TABLE IF NOT EXISTS capacity_in (specialty varchar(50) NOT NULL, date date NOT NULL, "
    "slots_total integer NOT NULL, slots_available integer NOT NULL) ON COMMIT DELETE ROWS")
_PG_STAGE_COLUMNS = ("specialty", "date", "slots_total", "slots_available")
_PG_APPLY = sa.text("""
WITH updated AS (
    UPDATE capacity c
    SET slots_total = i.slots_total, slots_available = i.slots_available, confirmed_at = :now
    FROM capacity_in i
    WHERE c.stakeholder_id = :stakeholder_id AND c.specialty = i.specialty AND c.date = i.date
    RETURNING c.specialty, c.date
), inserted AS (
    INSERT INTO capacity (stakeholder_id, specialty, date, slots_total, slots_available, confirmed_at)
    SELECT :stakeholder_id, i.specialty, i.date, i.slots_total, i.slots_available, :now
    FROM capacity_in i
    WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.specialty = i.specialty AND u.date = i.date)
    ORDER BY i.specialty, i.date
    ON CONFLICT (stakeholder_id, specialty, date) DO UPDATE
    SET slots_total = EXCLUDED.slots_total, slots_available = EXCLUDED.slots_available,
        confirmed_at = EXCLUDED.confirmed_at
    RETURNING (xmax = 0) AS new
)
SELECT (SELECT count(*) FROM inserted WHERE new),
       (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted WHERE NOT new)
""")


def _in_order(rows: list[Row]) -> list[Row]:
    return sorted(rows)  # by (specialty, date): a batch has each pair once


async def _driver_connection(session: AsyncSession) -> Any:
    """The DBAPI driver's own connection, inside the session's transaction (already begun)."""
    raw = await (await session.connection()).get_raw_connection()
    return raw.driver_connection


async def _upsert_postgresql(session: AsyncSession, stakeholder_id: str, rows: list[Row],
                             now: datetime) -> tuple[int, int]:
    await session.execute(_PG_STAGE)  # also begins the transaction the COPY joins
    await session.execute(sa.text("DELETE FROM capacity_in"))  # empty (ON COMMIT), unless a batch came before
    conn = await _driver_connection(session)
    await conn.copy_records_to_table("capacity_in", columns=_PG_STAGE_COLUMNS, records=rows)  # any order: see 1.
    await lock(session, f"integration.capacity:{stakeholder_id}")
    result = await session.execute(_PG_APPLY, {"stakeholder_id": stakeholder_id, "now": now})
    inserted, updated = result.one()
    return int(inserted), int(updated)


# SQLite: the stdlib driver's executemany of one prepared upsert, without SQLAlchemy's
# per-row parameter processing (~6x). Values are written as SQLAlchemy writes them: dates
# as ISO text, UTC datetimes as "YYYY-MM-DD HH:MM:SS.ffffff". Inserted vs updated is the
# stakeholder's row count before and after (an index count, no rows fetched).
_SQLITE_UPSERT = (
    "INSERT INTO capacity (stakeholder_id, specialty, date, slots_total, slots_available, confirmed_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stakeholder_id, specialty, date) DO UPDATE SET "
    "slots_total = excluded.slots_total, slots_available = excluded.slots_available, "
    "confirmed_at = excluded.confirmed_at")
_SQLITE_COUNT = sa.text("SELECT count(*) FROM capacity WHERE stakeholder_id = :stakeholder_id")


async def _upsert_portable(session: AsyncSession, stakeholder_id: str, rows: list[Row],
                           now: datetime) -> tuple[int, int]:
    before = (await session.execute(_SQLITE_COUNT, {"stakeholder_id": stakeholder_id})).scalar_one()
    confirmed_at = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = await _driver_connection(session)
    await conn.executemany(_SQLITE_UPSERT, [
        (stakeholder_id, r.specialty, r.date.isoformat(), r.slots_total, r.slots_available, confirmed_at)
        for r in _in_order(rows)])
    after = (await session.execute(_SQLITE_COUNT, {"stakeholder_id": stakeholder_id})).scalar_one()
    return after - before, len(rows) - (after - before)


async def list_(session: AsyncSession, *, stakeholder_id: str, paging: PageParams, specialty: str | None,
                from_: date | None, to: date | None, fresh_since: datetime) -> tuple[list[CapacityRow], str | None]:
    """Rows by (date, specialty), each marked stale when not confirmed since ``fresh_since``."""
    stmt = sa.select(Capacity).where(Capacity.stakeholder_id == stakeholder_id)
    if specialty:
        stmt = stmt.where(Capacity.specialty == specialty)
    if from_:
        stmt = stmt.where(Capacity.date >= from_)
    if to:
        stmt = stmt.where(Capacity.date <= to)
    found, cursor = await paginate(session, stmt, (Capacity.date, Capacity.specialty), paging)
    return [CapacityRow(specialty=c.specialty, date=c.date, slots_total=c.slots_total,
                        slots_available=c.slots_available, confirmed_at=c.confirmed_at,
                        stale=c.confirmed_at < fresh_since) for c in found], cursor


async def list_all(session: AsyncSession, *, paging: PageParams, from_: date | None, to: date | None,
                   fresh_since: datetime) -> tuple[list[CapacityListed], str | None]:
    """Every stakeholder's rows by (stakeholder, specialty, date): the primary key's order, so
    each page is one index range scan whatever the register's size."""
    stmt = sa.select(Capacity)
    if from_:
        stmt = stmt.where(Capacity.date >= from_)
    if to:
        stmt = stmt.where(Capacity.date <= to)
    found, cursor = await paginate(session, stmt, (Capacity.stakeholder_id, Capacity.specialty, Capacity.date), paging)
    return [CapacityListed(stakeholder_id=c.stakeholder_id, specialty=c.specialty, date=c.date,
                           slots_total=c.slots_total, slots_available=c.slots_available, confirmed_at=c.confirmed_at,
                           stale=c.confirmed_at < fresh_since) for c in found], cursor


# -- coverage -----------------------------------------------------------------------------------

def fresh_since(stale_after_days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=stale_after_days)


async def coverage(session: AsyncSession, *, specialties: list[str], stale_after_days: int,
                   today: date | None = None) -> list[Coverage]:
    """Per specialty: active providers offering it, and those with fresh slots in the next 7 days."""
    today = today or datetime.now(UTC).date()
    active_providers = (sa.select(Stakeholder.id).where(
        Stakeholder.status == StakeholderStatus.active.value,
        Stakeholder.kind.in_([k.value for k in PROVIDER_KINDS])))
    offered = dict((await session.execute(
        sa.select(StakeholderSpecialty.specialty, sa.func.count())
        .where(StakeholderSpecialty.specialty.in_(specialties),
               StakeholderSpecialty.stakeholder_id.in_(active_providers))
        .group_by(StakeholderSpecialty.specialty))).all())
    fresh = {row[0]: (row[1], row[2]) for row in (await session.execute(
        sa.select(Capacity.specialty, sa.func.count(sa.distinct(Capacity.stakeholder_id)),
                  sa.func.sum(Capacity.slots_available))
        .where(Capacity.specialty.in_(specialties), Capacity.slots_available > 0,
               Capacity.date >= today, Capacity.date < today + timedelta(days=7),
               Capacity.confirmed_at >= fresh_since(stale_after_days),
               Capacity.stakeholder_id.in_(active_providers),
               sa.tuple_(Capacity.stakeholder_id, Capacity.specialty).in_(
                   sa.select(StakeholderSpecialty.stakeholder_id, StakeholderSpecialty.specialty)))
        .group_by(Capacity.specialty))).all()}
    return [Coverage(specialty=s, providers=offered.get(s, 0), providers_with_fresh_capacity=fresh.get(s, (0, 0))[0],
                     weekly_fresh_slots=int(fresh.get(s, (0, 0))[1] or 0)) for s in specialties]
