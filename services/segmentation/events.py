"""Events the Segmentation service publishes (through the outbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.segmentation.models import Segment, Specialty

# Every type this service publishes (webhooks take subscriptions to these only).
TYPES = frozenset({"specialty.created", "segment.created", "segment.updated", "segment.retired"})


def specialty_created(session: AsyncSession, specialty: Specialty) -> None:
    outbox.record(session, type="specialty.created", subject=specialty.code,
                  data={"code": specialty.code, "family": specialty.family})


def _segment_data(segment: Segment) -> dict[str, object]:
    return {"segment_id": segment.id, "name": segment.name, "family": segment.family,
            "specialties": segment.specialties, "source_markets": segment.source_markets,
            "status": segment.status, "version": segment.version}


def segment_created(session: AsyncSession, segment: Segment) -> None:
    outbox.record(session, type="segment.created", subject=segment.id, data=_segment_data(segment))


def segment_updated(session: AsyncSession, segment: Segment, changed: list[str]) -> None:
    outbox.record(session, type="segment.updated", subject=segment.id,
                  data={**_segment_data(segment), "changed": changed})


def segment_retired(session: AsyncSession, segment: Segment, changed: list[str]) -> None:
    outbox.record(session, type="segment.retired", subject=segment.id,
                  data={**_segment_data(segment), "changed": changed})
