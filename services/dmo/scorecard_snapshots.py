"""Scorecard snapshots: the attributes' figures kept once a UTC day, to measure trends against.

Why on a request rather than on the clock or on Development's ``assessment.recorded`` event: a
snapshot needs the whole fan-out to the pillars, which a request is already paying for, and a
scorecard nobody asks for needs no history. The first scorecard computed on a day is kept;
later ones that day change nothing (at most one write a day, and a figure of the morning
does not move under a trend read in the afternoon). The snapshot is written in a short
transaction of its own after the figures are computed: a GET's unit of work never commits,
and concurrent first requests of a day both try, one wins (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import Database, write_intent
from services.dmo.models import ScorecardSnapshot
from services.dmo.scorecard import Snapshot


async def history(session: AsyncSession) -> list[Snapshot]:
    """Every snapshot, oldest first (one a day: a few hundred rows a year)."""
    rows = (await session.scalars(sa.select(ScorecardSnapshot).order_by(ScorecardSnapshot.taken_on))).all()
    return [Snapshot(taken_on=r.taken_on, values=dict(r.figures)) for r in rows]


async def keep(db: Database, *, on: date, values: Mapping[str, float | None]) -> bool:
    """Store the day's snapshot unless one is already kept; True when this call stored it."""
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            result = await session.execute(insert(ScorecardSnapshot).values(
                taken_on=on, taken_at=datetime.now(UTC), figures=dict(values)).on_conflict_do_nothing())
            await session.commit()
    finally:
        write_intent.reset(token)
    return getattr(result, "rowcount", 0) == 1
