"""Fresh capacity by provider, specialty and ISO week: what gap analysis and the coordinator read.

Only what counts towards the offer: active stakeholders of a provider kind, the specialties
they offer (the approved list), rows confirmed within the staleness window. Rows dated
``from_``..``to`` are summed by the ISO week they fall in. The database computes each row's
Monday, so a page is a keyset over (stakeholder, specialty, week) like every other list, and
the sum never leaves the database row by row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import dialect_of
from pentad.errors import FieldError, Invalid
from pentad.pagination import PageParams, decode_cursor, encode_cursor
from services.integration.models import Capacity, Stakeholder, StakeholderSpecialty
from services.integration.schemas import PROVIDER_KINDS, StakeholderStatus, WeeklyCapacity, iso_week

MAX_RANGE_DAYS = 366

# The Monday of a row's date. Literal SQL (no bound parameters) so that SELECT, GROUP BY and
# ORDER BY render the same expression: PostgreSQL matches GROUP BY expressions textually.
_MONDAY = {
    "postgresql": "(capacity.date - (CAST(EXTRACT(ISODOW FROM capacity.date) AS INTEGER) - 1))",
    "sqlite": "date(capacity.date, '-6 days', 'weekday 1')",
}
_CURSOR_COLUMNS: tuple[Any, ...] = (Capacity.stakeholder_id, Capacity.specialty, sa.column("week", sa.Date()))


def check_range(from_: date, to: date) -> None:
    if to < from_:
        raise Invalid("`to` is before `from`.", errors=[FieldError(field="query.to", message="before from",
                                                                    value=to.isoformat())])
    if (to - from_).days >= MAX_RANGE_DAYS:
        raise Invalid(f"At most {MAX_RANGE_DAYS} days a request.", errors=[FieldError(
            field="query.to", message=f"more than {MAX_RANGE_DAYS} days after from", value=to.isoformat())])


async def weekly(session: AsyncSession, *, specialties: list[str], from_: date, to: date, fresh_since: datetime,
                 paging: PageParams) -> tuple[list[WeeklyCapacity], str | None]:
    check_range(from_, to)
    monday = sa.literal_column(_MONDAY[dialect_of(session)], sa.Date()).label("monday")
    key = (Capacity.stakeholder_id, Capacity.specialty, monday)
    stmt = (sa.select(*key, sa.func.sum(Capacity.slots_available))
            .join(StakeholderSpecialty, sa.and_(StakeholderSpecialty.stakeholder_id == Capacity.stakeholder_id,
                                                StakeholderSpecialty.specialty == Capacity.specialty))
            .join(Stakeholder, Stakeholder.id == Capacity.stakeholder_id)
            .where(Stakeholder.status == StakeholderStatus.active.value,
                   Stakeholder.kind.in_([k.value for k in PROVIDER_KINDS]),
                   Capacity.specialty.in_(specialties), Capacity.date.between(from_, to),
                   Capacity.confirmed_at >= fresh_since)
            .group_by(*key).order_by(*key).limit(paging.limit + 1))
    if paging.cursor is not None:
        after = decode_cursor(paging.cursor, _CURSOR_COLUMNS)
        stmt = stmt.where(sa.tuple_(*key[:2], monday.element) > sa.tuple_(
            *(sa.literal(v, c.type) for v, c in zip(after, _CURSOR_COLUMNS, strict=True))))
    rows = (await session.execute(stmt)).all()
    items = [_item(*row) for row in rows[: paging.limit]]
    more = len(rows) > paging.limit
    return items, encode_cursor([items[-1].stakeholder_id, items[-1].specialty, items[-1].starts_on]) if more else None


def _item(stakeholder_id: str, specialty: str, monday: date, slots: int | None) -> WeeklyCapacity:
    return WeeklyCapacity(stakeholder_id=stakeholder_id, specialty=specialty, week=iso_week(monday),
                          starts_on=monday, fresh_slots=int(slots or 0))
