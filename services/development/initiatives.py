"""Initiatives: what the DMO does to close a segment's gap, and how far it has got."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Invalid
from pentad.ids import new_id
from pentad.money import Money
from pentad.pagination import PageParams, paginate
from services.development import events
from services.development.models import Initiative
from services.development.schemas import (
    GapKind,
    InitiativeIn,
    InitiativeOut,
    InitiativePatch,
    InitiativeStatus,
    MilestoneOut,
)
from services.segmentation.client import SegmentRef

S = InitiativeStatus
# Forward only: an initiative is proposed, approved, carried out and done, or cancelled on the way.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.proposed: frozenset({S.approved, S.cancelled}),
    S.approved: frozenset({S.in_progress, S.cancelled}),
    S.in_progress: frozenset({S.done, S.cancelled}),
    S.done: frozenset(),
    S.cancelled: frozenset(),
}
CLOSED = frozenset({S.done.value, S.cancelled.value})


def check_segment(segment_id: str, segment: SegmentRef | None) -> None:
    """An initiative closes a gap of a segment Segmentation knows and still serves."""
    if segment is None or segment.status != "active":
        why = "unknown segment" if segment is None else f"the segment is {segment.status}"
        raise Invalid("The initiative's segment cannot take one.",
                      errors=[FieldError(field="segment_id", message=why, value=segment_id)])


async def create(session: AsyncSession, *, initiative_in: InitiativeIn, segment: SegmentRef | None) -> Initiative:
    check_segment(initiative_in.segment_id, segment)
    initiative = Initiative(id=new_id("ini"), status=S.proposed.value, status_reason=None,
                            **initiative_in.model_dump(mode="json"))
    session.add(initiative)
    await session.flush()
    events.initiative_created(session, initiative)
    return initiative


async def get_or_raise(session: AsyncSession, *, initiative_id: str, for_update: bool = False) -> Initiative:
    return await orm.get_or_raise(session, Initiative, initiative_id, noun="initiative", for_update=for_update)


async def list_(session: AsyncSession, *, paging: PageParams, segment_id: str | None = None,
                status: str | None = None, gap: str | None = None) -> tuple[Sequence[Initiative], str | None]:
    stmt = sa.select(Initiative)
    for column, value in ((Initiative.segment_id, segment_id), (Initiative.status, status), (Initiative.gap, gap)):
        if value:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Initiative.id, paging)


def check_step(current: str, target: str) -> None:
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise Conflict(f"An initiative cannot go from {current} to {target}; from {current} it may go to: "
                       f"{', '.join(sorted(allowed)) or 'nothing (it is closed)'}.")


def check_done(milestones: list[dict[str, Any]]) -> None:
    if undone := [m["title"] for m in milestones if not m["done"]]:
        raise Conflict(f"An initiative is done when its milestones are; not done yet: {'; '.join(undone)}.")


async def update(session: AsyncSession, *, initiative: Initiative, patch: InitiativePatch) -> Initiative:
    # Only the fields sent, but each whole: exclude_unset would also drop a milestone's unsent `done`.
    changes = {f: v for f, v in patch.model_dump(mode="json").items() if f in patch.model_fields_set}
    before = initiative.status
    if before in CLOSED:
        raise Conflict(f"The initiative is {before}, so closed: it no longer changes "
                       f"(from {before} it may go to: nothing).")
    target = changes.pop("status", before)
    if target != before:
        check_step(before, target)
        if target == S.cancelled and not changes.get("status_reason"):
            raise Invalid("Say why the initiative is cancelled.", errors=[FieldError(
                field="status_reason", message="required when cancelling")])
        if target == S.done:
            check_done(changes.get("milestones", initiative.milestones))
        changes |= {"status": target, "status_reason": changes.pop("status_reason", None)}
    await orm.update_columns(session, initiative, changes)
    if target != before:
        events.initiative_status_changed(session, initiative, from_=before)
    return initiative


def present(initiative: Initiative, *, on: date) -> InitiativeOut:
    """Progress and overdue milestones are worked out at read time, so they are never stale."""
    still_open = initiative.status not in CLOSED
    milestones = [MilestoneOut(**m, overdue=still_open and not m["done"] and date.fromisoformat(m["due_on"]) < on)
                  for m in initiative.milestones]
    if milestones:
        progress = sum(m.done for m in milestones) / len(milestones)
    else:
        progress = 1.0 if initiative.status == S.done else 0.0
    return InitiativeOut(
        id=initiative.id, title=initiative.title, description=initiative.description,
        segment_id=initiative.segment_id, gap=GapKind(initiative.gap), owner=initiative.owner,
        budget=Money.model_validate(initiative.budget), milestones=milestones,
        status=S(initiative.status), status_reason=initiative.status_reason,
        progress=round(progress, 4), overdue_milestones=sum(m.overdue for m in milestones),
        created_at=initiative.created_at, updated_at=initiative.updated_at)
