"""Memberships of the DMO: tier, dues and the paid period; lapsing when the period ends.

A stakeholder holds at most one membership (not cancelled) for any day. ``active`` and
``lapsed`` follow from ``period_end`` on every read; only a cancellation is stored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm, sweeps
from pentad.db import lock
from pentad.errors import Conflict, FieldError, Forbidden, Invalid
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.money import Money
from pentad.pagination import PageParams, paginate
from pentad.settings import Settings
from pentad.tables import sweep_marks
from services.administration import audit, events, lifecycle
from services.administration.lifecycle import AsOf
from services.administration.models import Membership
from services.administration.schemas import (
    MembershipIn,
    MembershipOut,
    MembershipPatch,
    MembershipStatus,
    MembershipTier,
)


def status_of(membership: Membership, as_of: AsOf) -> MembershipStatus:
    return lifecycle.membership_status(cancelled=membership.cancelled_at is not None,
                                       period_end=membership.period_end, as_of=as_of)


def present(membership: Membership, *, as_of: AsOf) -> MembershipOut:
    return MembershipOut(
        id=membership.id, stakeholder_id=membership.stakeholder_id, tier=MembershipTier(membership.tier),
        dues=Money.model_validate(membership.dues), period_start=membership.period_start,
        period_end=membership.period_end, status=status_of(membership, as_of), cancelled_at=membership.cancelled_at,
        created_at=membership.created_at, updated_at=membership.updated_at)


# -- who may see what ---------------------------------------------------------------------------------

def ensure_visible(caller: Caller, membership: Membership) -> None:
    """Staff see all; a provider or facilitator key its own stakeholder's memberships."""
    if not caller.is_staff and caller.stakeholder_id != membership.stakeholder_id:
        raise Forbidden("A key bound to a stakeholder reads that stakeholder's memberships only.")


def readable_stakeholder(caller: Caller, stakeholder_id: str | None) -> str | None:
    """The stakeholder a list is narrowed to: any for staff, the key's own for the others."""
    if caller.is_staff:
        return stakeholder_id
    if stakeholder_id not in (None, caller.stakeholder_id):
        raise Forbidden("A key bound to a stakeholder reads that stakeholder's memberships only.")
    return caller.stakeholder_id


# -- reads ----------------------------------------------------------------------------------------------

def status_filter(statuses: Collection[MembershipStatus], *, as_of: AsOf) -> sa.ColumnElement[bool]:
    """``lifecycle.membership_status`` in SQL."""
    current = Membership.cancelled_at.is_(None)
    by_status = {
        MembershipStatus.cancelled: Membership.cancelled_at.is_not(None),
        MembershipStatus.lapsed: sa.and_(current, Membership.period_end < as_of.today),
        MembershipStatus.active: sa.and_(current, Membership.period_end >= as_of.today),
    }
    return sa.or_(*(by_status[s] for s in statuses))


async def get_or_raise(session: AsyncSession, *, membership_id: str, for_update: bool = False) -> Membership:
    return await orm.get_or_raise(session, Membership, membership_id, noun="membership", for_update=for_update)


async def list_(session: AsyncSession, *, paging: PageParams, as_of: AsOf, stakeholder_id: str | None = None,
                statuses: Collection[MembershipStatus] = (), tier: str | None = None
                ) -> tuple[Sequence[Membership], str | None]:
    stmt = sa.select(Membership)
    if stakeholder_id:
        stmt = stmt.where(Membership.stakeholder_id == stakeholder_id)
    if statuses:
        stmt = stmt.where(status_filter(statuses, as_of=as_of))
    if tier:
        stmt = stmt.where(Membership.tier == tier)
    return await paginate(session, stmt, Membership.id, paging)


# -- writes ---------------------------------------------------------------------------------------------

async def _ensure_no_overlap(session: AsyncSession, *, stakeholder_id: str, start: date, end: date,
                             field: str, other_than: str | None = None) -> None:
    await lock(session, f"administration.membership:{stakeholder_id}")  # one check at a time a stakeholder
    clash = await session.scalar(sa.select(Membership.id).where(
        Membership.stakeholder_id == stakeholder_id, Membership.cancelled_at.is_(None),
        Membership.period_start <= end, Membership.period_end >= start, Membership.id != (other_than or "")))
    if clash is not None:
        raise Conflict(f"The stakeholder already has membership {clash!r} for part of this period.",
                       errors=[FieldError(field=field, message=f"overlaps membership {clash}")])


async def create(session: AsyncSession, *, actor: Caller, membership_in: MembershipIn, as_of: AsOf) -> Membership:
    await _ensure_no_overlap(session, stakeholder_id=membership_in.stakeholder_id, field="period_start",
                             start=membership_in.period_start, end=membership_in.period_end)
    membership = Membership(id=new_id("mem"), **membership_in.model_dump(exclude={"dues"}),
                            dues=membership_in.dues.model_dump(mode="json"))
    session.add(membership)
    await session.flush()
    audit.record(session, actor=actor, entity="membership", entity_id=membership.id, action="created", before=None,
                 after=audit.snapshot(membership))
    events.membership_changed(session, membership, status=status_of(membership, as_of), change="created",
                              changed=[])
    return membership


def _apply(membership: Membership, changes: dict[str, Any], *, as_of: AsOf) -> None:
    if changes.get("status") == MembershipStatus.cancelled:
        membership.cancelled_at = as_of.now
    if "tier" in changes:
        membership.tier = changes["tier"].value
    if "dues" in changes:
        membership.dues = changes["dues"].model_dump(mode="json")
    if "period_end" in changes:
        membership.period_end = changes["period_end"]


async def update(session: AsyncSession, *, actor: Caller, membership: Membership, patch: MembershipPatch,
                 as_of: AsOf) -> Membership:
    changes = {k: getattr(patch, k) for k in patch.model_fields_set
               if not (k == "status" and membership.cancelled_at is not None)}  # cancelling twice is a no-op
    if changes and membership.cancelled_at is not None:
        raise Conflict("A cancelled membership is closed; open a new one.", errors=[FieldError(
            field="status", message="from cancelled, allowed: none (cancelled is final)")])
    if "period_end" in changes:
        await _check_period(session, membership, changes["period_end"])
    before = audit.snapshot(membership)
    _apply(membership, changes, as_of=as_of)
    changed = sorted(k for k, v in audit.snapshot(membership).items() if v != before[k])
    if not changed:
        return membership
    await session.flush()
    cancelled = "cancelled_at" in changed
    audit.record(session, actor=actor, entity="membership", entity_id=membership.id,
                 action="cancelled" if cancelled else "updated", before=before, after=audit.snapshot(membership))
    events.membership_changed(session, membership, status=status_of(membership, as_of),
                              change="cancelled" if cancelled else "updated", changed=changed)
    return membership


async def _check_period(session: AsyncSession, membership: Membership, period_end: date) -> None:
    if period_end <= membership.period_start:
        raise Invalid("A membership's period ends after it starts.", errors=[FieldError(
            field="period_end", message=f"must be after period_start ({membership.period_start})",
            value=period_end.isoformat())])
    await _ensure_no_overlap(session, stakeholder_id=membership.stakeholder_id, start=membership.period_start,
                             end=period_end, field="period_end", other_than=membership.id)


# -- the sweep: lapses, once each -------------------------------------------------------------------------

SWEEP_ACTOR = "sweep:membership-lapses"
LAPSED = "membership.lapsed"  # the mark; the event published is membership.changed


async def sweep_lapses(session: AsyncSession, settings: Settings) -> int:
    """Publish ``membership.changed`` (change ``lapsed``) once per membership and ``period_end``."""
    as_of = AsOf(now=lifecycle.now())
    marked = sa.exists().where(sweep_marks.c.subject == Membership.id, sweep_marks.c.event == LAPSED,
                               sweep_marks.c.on_date == Membership.period_end)
    lapsed = (await session.scalars(sa.select(Membership).where(
        Membership.cancelled_at.is_(None), Membership.period_end < as_of.today, ~marked).order_by(Membership.id))).all()
    done = 0
    for membership in lapsed:
        if await sweeps.first_time(session, subject=membership.id, event=LAPSED, on=membership.period_end):
            audit.record(session, actor=SWEEP_ACTOR, entity="membership", entity_id=membership.id, action="lapsed",
                         before={"status": MembershipStatus.active.value},
                         after={"status": MembershipStatus.lapsed.value,
                                "period_end": membership.period_end.isoformat()})
            events.membership_changed(session, membership, status=MembershipStatus.lapsed.value, change="lapsed",
                                      changed=[])
            done += 1
    return done
