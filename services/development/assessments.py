"""Critical-threshold assessments: dated snapshots of gaps, and each segment's history.

An assessment is either *computed* (every active segment's gaps, from the pillars, today)
or *recorded* (figures a DMO measured on an earlier date, entered by staff; the shortfalls
are still worked out here, by the same rules). The pillars only know the present, so a
past ``as_of`` is only ever a recorded assessment: a computed one dated in the past would
be today's figures under a false date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Invalid
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from services.development import events, gaps, sources
from services.development.models import Assessment, AssessmentPoint
from services.development.schemas import (
    AssessmentIn,
    AssessmentOut,
    AssessmentSource,
    Gap,
    RecordedSegment,
)
from services.development.sources import Pillars
from services.segmentation.client import SegmentRef


def check_as_of(assessment_in: AssessmentIn, *, today: date) -> None:
    as_of = assessment_in.as_of
    if as_of is not None and as_of > today:
        raise Invalid("An assessment cannot be dated in the future.", errors=[FieldError(
            field="as_of", message=f"after today ({today.isoformat()})", value=as_of.isoformat())])
    if as_of is not None and as_of < today and assessment_in.segments is None:
        raise Invalid("The pillars only know today's figures: a past date needs that date's figures in `segments`.",
                      errors=[FieldError(field="as_of", message="a past date needs `segments`",
                                         value=as_of.isoformat())])


async def snapshot(pillars: Pillars, *, assessment_in: AssessmentIn, today: date
                   ) -> tuple[AssessmentSource, list[Gap]]:
    """The gaps to record. Reads the pillars only: call it before the first database statement."""
    check_as_of(assessment_in, today=today)
    if assessment_in.segments is not None:
        return AssessmentSource.recorded, await _recorded(pillars, assessment_in.segments)
    wanted = await sources.segments(pillars)
    if not wanted:
        raise Conflict("There is no active segment to assess.")
    found = await sources.found_for(pillars, wanted, today=today)
    return AssessmentSource.computed, [gaps.analyse(segment, found) for segment in wanted]


async def _recorded(pillars: Pillars, records: list[RecordedSegment]) -> list[Gap]:
    # Two calls whatever the number of segments; a retired segment may well have a past.
    active, retired = await sources.ask(pillars.segmentation.segments(status="active"),
                                        pillars.segmentation.segments(status="retired"))
    known: dict[str, SegmentRef] = {s.id: s for s in (*active, *retired)}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, record in enumerate(records):
        errors += _misfits(i, record, known.get(record.segment_id), seen)
        seen.add(record.segment_id)
    if errors:
        raise Invalid("Some recorded figures do not fit a segment.", errors=errors)
    return [gaps.recorded(known[r.segment_id], r.current) for r in records]


def _misfits(i: int, record: RecordedSegment, segment: SegmentRef | None, seen: set[str]) -> list[FieldError]:
    where = f"segments.{i}"
    if segment is None or record.segment_id in seen:
        why = "unknown segment" if segment is None else "this segment is already in the assessment"
        return [FieldError(field=f"{where}.segment_id", message=why, value=record.segment_id)]
    return [FieldError(field=f"{where}.current.languages_covered.{j}", message="not one of the segment's languages",
                       value=lang) for j, lang in enumerate(record.current.languages_covered)
            if lang not in segment.languages]


async def record(session: AsyncSession, *, assessment_in: AssessmentIn, source: AssessmentSource,
                 found: Sequence[Gap], today: date) -> Assessment:
    as_of = assessment_in.as_of or today
    assessment = Assessment(id=new_id("asm"), as_of=as_of, source=source.value, note=assessment_in.note,
                            recorded_at=datetime.now(UTC), points=[_point(g, as_of, source) for g in found])
    session.add(assessment)
    await session.flush()
    events.assessment_recorded(session, assessment)
    return assessment


def _point(gap: Gap, as_of: date, source: AssessmentSource) -> AssessmentPoint:
    dumped = gap.model_dump(mode="json")
    return AssessmentPoint(segment_id=gap.segment_id, as_of=as_of, source=source.value,
                           segment_name=gap.segment_name, met=gap.met, threshold=dumped["threshold"],
                           current=dumped["current"], shortfalls=dumped["shortfalls"], inputs=dumped["inputs"])


async def get_or_raise(session: AsyncSession, *, assessment_id: str) -> Assessment:
    return await orm.get_or_raise(session, Assessment, assessment_id, noun="assessment")


def present(assessment: Assessment) -> AssessmentOut:
    return AssessmentOut(
        id=assessment.id, as_of=assessment.as_of, source=AssessmentSource(assessment.source), note=assessment.note,
        recorded_at=assessment.recorded_at,
        gaps=[Gap.model_validate({"segment_id": p.segment_id, "segment_name": p.segment_name, "met": p.met,
                                  "threshold": p.threshold, "current": p.current, "shortfalls": p.shortfalls,
                                  "inputs": p.inputs}) for p in assessment.points])


async def history(session: AsyncSession, *, paging: PageParams, segment_id: str | None = None
                  ) -> tuple[Sequence[AssessmentPoint], str | None]:
    """Points oldest first (by ``as_of``, then the order they were recorded in): ready to plot."""
    query = sa.select(AssessmentPoint)
    if segment_id:
        query = query.where(AssessmentPoint.segment_id == segment_id)
    return await paginate(session, query, (AssessmentPoint.as_of, AssessmentPoint.assessment_id,
                                           AssessmentPoint.segment_id), paging)
