"""Events the Development service publishes (through the outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.development.models import Assessment, Initiative

# Every type this service publishes (webhooks take subscriptions to these only).
TYPES = frozenset({"initiative.created", "initiative.status_changed", "assessment.recorded"})


def _initiative(i: Initiative) -> dict[str, Any]:
    # No owner: a person's name has no business in a feed every consumer keeps.
    return {"initiative_id": i.id, "segment_id": i.segment_id, "gap": i.gap, "title": i.title,
            "status": i.status, "budget": i.budget, "milestones": len(i.milestones), "version": i.version}


def initiative_created(session: AsyncSession, initiative: Initiative) -> None:
    outbox.record(session, type="initiative.created", subject=initiative.id, data=_initiative(initiative))


def initiative_status_changed(session: AsyncSession, initiative: Initiative, *, from_: str) -> None:
    outbox.record(session, type="initiative.status_changed", subject=initiative.id,
                  data={**_initiative(initiative), "from": from_, "to": initiative.status,
                        "reason": initiative.status_reason})


def assessment_recorded(session: AsyncSession, assessment: Assessment) -> None:
    outbox.record(session, type="assessment.recorded", subject=assessment.id, data={
        "assessment_id": assessment.id, "as_of": assessment.as_of.isoformat(), "source": assessment.source,
        "segments": [{"segment_id": p.segment_id, "met": p.met, "shortfalls": p.shortfalls}
                     for p in assessment.points]})
