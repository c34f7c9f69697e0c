"""Complaints and incidents: against a stakeholder, triaged by severity into an SLA, worked
open → investigating → resolved | dismissed, and flagged overdue (on read) past their SLA.

Staff file and work them; a facilitator files its own and follows them; a provider reads
the complaints about itself. Nobody else learns that a complaint exists (404).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from services.administration import audit, events, lifecycle
from services.administration.lifecycle import AsOf
from services.administration.models import Complaint
from services.administration.schemas import ComplaintIn, ComplaintOut, ComplaintPatch, ComplaintStatus

OPEN = (ComplaintStatus.open.value, ComplaintStatus.investigating.value)


def present(complaint: Complaint, *, as_of: AsOf, caller: Caller) -> ComplaintOut:
    """The complaint as ``caller`` may read it: the provider it is about is not told which
    facilitator filed it (the DMO mediates; a complainant is not exposed to the provider)."""
    overdue = lifecycle.complaint_overdue(status=complaint.status, due_at=complaint.due_at, as_of=as_of)
    shown = {k: getattr(complaint, k) for k in ComplaintOut.model_fields if k != "overdue"}
    if caller.role == Role.provider:
        shown["filed_by"] = None
    return ComplaintOut.model_validate({**shown, "overdue": overdue})


# -- who may see what ---------------------------------------------------------------------------------

def ensure_visible(caller: Caller, complaint: Complaint) -> None:
    if caller.is_staff:
        return
    mine = complaint.filed_by if caller.role == Role.facilitator else complaint.stakeholder_id
    if mine is None or mine != caller.stakeholder_id:
        raise NotFound(f"No complaint {complaint.id!r}.")


@dataclass(frozen=True, slots=True)
class ReadScope:
    stakeholder_id: str | None = None
    filed_by: str | None = None


def read_scope(caller: Caller, *, stakeholder_id: str | None) -> ReadScope:
    """Staff: any; a provider: those about itself; a facilitator: those it filed."""
    if caller.is_staff:
        return ReadScope(stakeholder_id=stakeholder_id)
    if caller.role == Role.facilitator:
        return ReadScope(stakeholder_id=stakeholder_id, filed_by=caller.stakeholder_id or "")
    if stakeholder_id not in (None, caller.stakeholder_id):
        raise Forbidden("A provider key reads the complaints about its own stakeholder only.")
    return ReadScope(stakeholder_id=caller.stakeholder_id or "")


# -- reads ----------------------------------------------------------------------------------------------

def overdue_filter(*, as_of: AsOf) -> sa.ColumnElement[bool]:
    """``lifecycle.complaint_overdue`` in SQL."""
    return sa.and_(Complaint.status.in_(OPEN), Complaint.due_at < as_of.now)


async def get_or_raise(session: AsyncSession, *, complaint_id: str, for_update: bool = False) -> Complaint:
    return await orm.get_or_raise(session, Complaint, complaint_id, noun="complaint", for_update=for_update)


async def list_(session: AsyncSession, *, scope: ReadScope, paging: PageParams, as_of: AsOf,
                statuses: Collection[ComplaintStatus] = (), severity: str | None = None,
                overdue: bool | None = None) -> tuple[Sequence[Complaint], str | None]:
    stmt = sa.select(Complaint)
    for column, value in ((Complaint.stakeholder_id, scope.stakeholder_id), (Complaint.filed_by, scope.filed_by),
                          (Complaint.severity, severity)):
        if value is not None:
            stmt = stmt.where(column == value)
    if statuses:
        stmt = stmt.where(Complaint.status.in_([s.value for s in statuses]))
    if overdue is not None:
        stmt = stmt.where(overdue_filter(as_of=as_of) if overdue else ~overdue_filter(as_of=as_of))
    return await paginate(session, stmt, Complaint.id, paging)


# -- writes ---------------------------------------------------------------------------------------------

def _sla(as_of: AsOf) -> dict[str, int]:
    assert as_of.sla_hours is not None, "complaints need the SLA settings in AsOf"
    return dict(as_of.sla_hours)


async def create(session: AsyncSession, *, actor: Caller, complaint_in: ComplaintIn, as_of: AsOf) -> Complaint:
    complaint = Complaint(
        id=new_id("cmp"), **complaint_in.model_dump(mode="json"), status=ComplaintStatus.open.value,
        due_at=lifecycle.complaint_due_at(opened_at=as_of.now, severity=complaint_in.severity, sla_hours=_sla(as_of)),
        filed_by=actor.stakeholder_id if actor.role == Role.facilitator else None, created_at=as_of.now)
    session.add(complaint)
    await session.flush()
    audit.record(session, actor=actor, entity="complaint", entity_id=complaint.id, action="opened", before=None,
                 after=audit.snapshot(complaint))
    events.complaint_opened(session, complaint)
    return complaint


def _move(complaint: Complaint, changes: dict[str, Any], as_of: AsOf) -> bool:
    """Apply a workflow step; True when it closes the complaint."""
    target = changes.get("status")
    target = None if target == complaint.status else target  # the same status again changes nothing
    if complaint.status in lifecycle.CLOSED and (target is not None or changes.keys() - {"status"}):
        raise Conflict(f"The complaint is {complaint.status}, which is final.", errors=[FieldError(
            field="status", message=f"from {complaint.status}, allowed: none ({complaint.status} is final)")])
    if target is not None:
        lifecycle.check_complaint_transition(status=complaint.status, target=target)
        complaint.status = target.value
    closing = target in lifecycle.CLOSED
    if "resolution" in changes and not closing:
        raise Invalid("A resolution is given when the complaint is resolved or dismissed.", errors=[
            FieldError(field="resolution", message="only with status resolved or dismissed")])
    if closing and not changes.get("resolution"):
        raise Invalid(f"A {target} complaint needs its resolution.", errors=[
            FieldError(field="resolution", message=f"required when the status becomes {target}")])
    if closing:
        complaint.resolution, complaint.closed_at = changes["resolution"], as_of.now
    return closing


async def update(session: AsyncSession, *, actor: Caller, complaint: Complaint, patch: ComplaintPatch,
                 as_of: AsOf) -> Complaint:
    changes = {k: getattr(patch, k) for k in patch.model_fields_set}
    before = audit.snapshot(complaint)
    closing = _move(complaint, changes, as_of)
    if "severity" in changes and changes["severity"] != complaint.severity:
        complaint.severity = changes["severity"].value  # re-triaged: the SLA runs from when it was opened
        complaint.due_at = lifecycle.complaint_due_at(opened_at=complaint.created_at, severity=complaint.severity,
                                                      sla_hours=_sla(as_of))
    if audit.snapshot(complaint) == before:
        return complaint
    await session.flush()
    action = complaint.status if before["status"] != complaint.status else "updated"
    audit.record(session, actor=actor, entity="complaint", entity_id=complaint.id, action=action, before=before,
                 after=audit.snapshot(complaint))
    if closing:
        events.complaint_closed(session, complaint)
    return complaint
