"""Assignments: an enquiry in one provider's hands, with the deadline it answers by.

The provider responds or declines (with the reason); a deadline passed without an answer is
flagged once by a sweep (``assignment.breached``) and counted against the provider, whose
response performance (median response time, breach rate) staff read, and each provider its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import sweeps
from pentad.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.orm import utcnow
from pentad.pagination import PageParams, paginate
from pentad.settings import Settings
from services.promotion import enquiry_events as events
from services.promotion import funnel
from services.promotion.client import ProviderPerformance  # the coordinator's client fixes its shape
from services.promotion.enquiry_schemas import AssignmentOut, AssignmentPatch, AssignmentStatus
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.models import Assignment, Enquiry

ANSWERS = frozenset({AssignmentStatus.responded, AssignmentStatus.declined})


async def get_own_or_raise(session: AsyncSession, *, caller: Caller, enquiry: Enquiry, stakeholder_id: str
                           ) -> Assignment:
    """The assignment, for that provider's own key or staff (the enquiry is already visible)."""
    if not (caller.is_staff or (caller.role == Role.provider and caller.stakeholder_id == stakeholder_id)):
        raise Forbidden("Only the provider an enquiry was routed to (or staff) answers for it.")
    found = await session.get(Assignment, (enquiry.id, stakeholder_id), with_for_update=True)
    if found is None:
        raise NotFound(f"The enquiry {enquiry.id!r} was not routed to {stakeholder_id!r}.")
    return found


def breached(assignment: Assignment, *, now: datetime) -> bool:
    """Past its deadline unanswered: true at once on read; the sweep records it and publishes it once."""
    return assignment.breached_at is not None or (
        assignment.status == AssignmentStatus.pending.value and assignment.respond_by < now)


def present(assignment: Assignment, *, now: datetime) -> AssignmentOut:
    shown = {k: getattr(assignment, k) for k in AssignmentOut.model_fields if k != "breached"}
    return AssignmentOut.model_validate({**shown, "breached": breached(assignment, now=now)})


async def answer(session: AsyncSession, *, actor: Caller, enquiry: Enquiry, assignment: Assignment,
                 patch: AssignmentPatch) -> bool:
    """Respond or decline (or, staff, move the deadline); True when the provider declined (its
    place may be filled)."""
    if patch.respond_by is not None:
        if not actor.is_staff:
            raise Forbidden("Only staff move a response deadline.")
        assignment.respond_by = patch.respond_by
    target = patch.status
    if target is None:
        await session.flush()
        return False
    if target not in ANSWERS:
        raise Invalid("A provider responds or declines.", errors=[
            FieldError(field="status", value=target.value, message="responded or declined")])
    if target.value == assignment.status:
        return False  # the same answer again changes nothing
    if assignment.status != AssignmentStatus.pending.value:
        raise Conflict(f"The assignment is {assignment.status} already.", errors=[
            FieldError(field="status", value=target.value, message=f"from {assignment.status}: no further answer")])
    if target == AssignmentStatus.declined and not patch.reason:
        raise Invalid("Declining needs a reason.", errors=[
            FieldError(field="reason", message="required when declining")])
    assignment.status, assignment.reason, assignment.responded_at = target.value, patch.reason, utcnow()
    if target == AssignmentStatus.responded:
        await advance(session, enquiry, S.responded, actor=actor.key_id)
    await session.flush()
    return target == AssignmentStatus.declined


async def advance(session: AsyncSession, enquiry: Enquiry, target: S, *, actor: str) -> None:
    """Move the enquiry forward to ``target`` (through the steps between) if it is not there yet."""
    for step in funnel.advance_to(enquiry.status, target):
        before = enquiry.status
        session.add(funnel.move(enquiry, step, actor=actor, at=utcnow()))
        await session.flush()
        await events.enquiry_status_changed(session, enquiry, from_=before)


# -- deadlines ---------------------------------------------------------------------------------------

async def sweep_breaches(session: AsyncSession, settings: Settings) -> int:
    """Flag each pending assignment past its deadline once, and publish ``assignment.breached``."""
    now = utcnow()
    due = (await session.scalars(sa.select(Assignment).where(
        Assignment.status == AssignmentStatus.pending.value, Assignment.respond_by < now,
        Assignment.breached_at.is_(None)).order_by(Assignment.respond_by).limit(1000)
        .with_for_update(skip_locked=True))).all()
    flagged = 0
    for assignment in due:
        if await sweeps.first_time(session, subject=f"{assignment.enquiry_id}:{assignment.stakeholder_id}",
                                   event="assignment.breached", on=assignment.respond_by.date()):
            assignment.breached_at = now
            await events.assignment_breached(session, assignment)
            flagged += 1
    await session.flush()
    return flagged


# -- performance -------------------------------------------------------------------------------------

async def performance(session: AsyncSession, *, caller: Caller, paging: PageParams
                      ) -> tuple[list[ProviderPerformance], str | None]:
    """Per provider ever routed an enquiry (a provider key: its own only), by stakeholder id."""
    ids = sa.select(Assignment.stakeholder_id).distinct()
    if not caller.is_staff:
        ids = ids.where(Assignment.stakeholder_id == (caller.stakeholder_id or ""))
    page, cursor = await paginate(session, ids, Assignment.stakeholder_id, paging)
    rows = (await session.scalars(sa.select(Assignment).where(Assignment.stakeholder_id.in_(list(page))))).all()
    now = utcnow()
    return [figures(sid, [a for a in rows if a.stakeholder_id == sid], now=now) for sid in page], cursor


def figures(stakeholder_id: str, assignments: Sequence[Assignment], *, now: datetime) -> ProviderPerformance:
    """Withdrawn assignments count for nothing: the DMO took them back, not the provider's doing."""
    counted = [a for a in assignments if a.status != AssignmentStatus.withdrawn.value]
    responded = [a for a in counted if a.responded_at is not None]
    late = sum(breached(a, now=now) for a in counted)
    seconds = [(a.responded_at - a.routed_at).total_seconds() for a in responded if a.responded_at]
    return ProviderPerformance(
        stakeholder_id=stakeholder_id, assignments=len(counted),
        responded=sum(a.status == AssignmentStatus.responded.value for a in counted), breached=late,
        breach_rate=late / len(counted) if counted else None,
        median_response_seconds=statistics.median(seconds) if seconds else None)
