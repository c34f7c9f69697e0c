"""The SQL filters say what the pure lifecycle functions say, on every backend.

A grid of stored states and dates around today and the window's edge: for each status, the
rows the filter selects are exactly those the pure function gives that status.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pentad.db import Database
from services.administration import accreditations, complaints, lifecycle, memberships
from services.administration.lifecycle import AsOf
from services.administration.models import Accreditation, Complaint, Membership
from services.administration.schemas import AccreditationStatus, ComplaintStatus, MembershipStatus

AS_OF = AsOf(now=datetime.now(UTC), expiring_days=30)
OFFSETS = (-400, -2, -1, 0, 1, 29, 30, 31, 400)


@pytest.fixture
async def db(databases) -> AsyncIterator[Database]:
    database = Database.connect(await databases.new("administration"))
    yield database
    await database.dispose()


async def test_accreditation_status_filter_matches_the_pure_status(db: Database) -> None:
    rows = [Accreditation(id=f"acc_{n:03d}", stakeholder_id="stk_x", scheme_id="sch_jci", certificate_no=str(n),
                          issued_on=AS_OF.today - timedelta(days=1000), expires_on=AS_OF.today + timedelta(days=d),
                          state=state)
            for n, (state, d) in enumerate(itertools.product(("pending", "valid", "suspended", "revoked"), OFFSETS))]
    async with db.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
        expected = {r.id: lifecycle.accreditation_status(state=r.state, expires_on=r.expires_on, as_of=AS_OF)
                    for r in rows}
        for status in AccreditationStatus:
            found = set((await session.scalars(sa.select(Accreditation.id).where(
                accreditations.status_filter([status], as_of=AS_OF)))).all())
            assert found == {i for i, s in expected.items() if s == status}, status
        assert set(expected.values()) == set(AccreditationStatus)  # the grid reaches every status


async def test_membership_status_filter_matches_the_pure_status(db: Database) -> None:
    rows = [Membership(id=f"mem_{n:03d}", stakeholder_id=f"stk_{n}", tier="standard",
                       dues={"amount": "1.00", "currency": "EUR"}, period_start=AS_OF.today - timedelta(days=1000),
                       period_end=AS_OF.today + timedelta(days=d), cancelled_at=AS_OF.now if cancelled else None)
            for n, (cancelled, d) in enumerate(itertools.product((False, True), OFFSETS))]
    async with db.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
        for status in MembershipStatus:
            found = set((await session.scalars(sa.select(Membership.id).where(
                memberships.status_filter([status], as_of=AS_OF)))).all())
            assert found == {r.id for r in rows if memberships.status_of(r, AS_OF) == status}, status


async def test_overdue_filter_matches_the_pure_flag(db: Database) -> None:
    hours = (-48, -1, 1, 48)
    rows = [Complaint(id=f"cmp_{n:03d}", stakeholder_id="stk_x", category="other", severity="low", description="x",
                      status=status.value, due_at=AS_OF.now + timedelta(hours=h))
            for n, (status, h) in enumerate(itertools.product(ComplaintStatus, hours))]
    async with db.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
        overdue = set((await session.scalars(sa.select(Complaint.id).where(
            complaints.overdue_filter(as_of=AS_OF)))).all())
    assert overdue == {r.id for r in rows
                       if lifecycle.complaint_overdue(status=r.status, due_at=r.due_at, as_of=AS_OF)}
    assert len(overdue) == 4  # open and investigating, 1 and 48 hours past due
