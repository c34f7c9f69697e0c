"""What the gap analysis reads from the other pillars, through their typed clients only.

Every figure comes from a pillar that answered: when one does not, the request fails with
a problem naming it (503 when unreachable, 502 when it answered an error), never a gap
computed from part of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pentad import client
from pentad.errors import FieldError, Invalid
from services.administration.client import AdministrationClient
from services.development.gaps import Found, weeks_from
from services.integration.client import IntegrationClient
from services.segmentation.client import SegmentationClient, SegmentRef

_NOT_GUESSED = "Gaps are computed only from every pillar's figures, none guessed"


@dataclass(frozen=True, slots=True)
class Pillars:
    segmentation: SegmentationClient
    integration: IntegrationClient
    administration: AdministrationClient


async def segments(pillars: Pillars, *, segment_id: str | None = None, field: str = "query.segment_id"
                   ) -> list[SegmentRef]:
    """One segment (whatever its status; 422 naming ``field`` when unknown), or every active one."""
    if segment_id is None:
        (found,) = await ask(pillars.segmentation.segments())
        return found
    (segment,) = await ask(pillars.segmentation.segment(segment_id))
    if segment is None:
        raise Invalid("Segmentation has no such segment.",
                      errors=[FieldError(field=field, message="unknown segment", value=segment_id)])
    return [segment]


async def found_for(pillars: Pillars, wanted: list[SegmentRef], *, today: date) -> Found:
    """The register, the accreditations that count and the weekly fresh capacity, asked at once."""
    weeks = weeks_from(today)
    specialties = sorted({s for segment in wanted for s in segment.specialties})
    stakeholders, accreditations, capacity = await ask(
        pillars.integration.stakeholders(),
        pillars.administration.accreditations(status=("valid", "expiring")),
        pillars.integration.weekly_capacity(specialties, from_=weeks[0], to=weeks[-1] + timedelta(days=6)))
    return Found(stakeholders=stakeholders, accreditations=accreditations, capacity=capacity, weeks=weeks)


async def ask(*calls: Awaitable[Any]) -> list[Any]:
    """Every call's answer; if any pillar failed, one problem naming each that did (the kit's ``ask``)."""
    return await client.ask(*calls, why=_NOT_GUESSED)
