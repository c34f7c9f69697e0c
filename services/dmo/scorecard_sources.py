"""What the scorecard reads from the five pillars, through their typed clients only.

One scorecard asks, all at once: Segmentation's active segments, then (as soon as they are
in) one attractiveness per active segment and one Integration coverage call per 100 of their
specialties; Promotion's campaigns, then one attribution per source market they name;
and, beside those, Integration's register, published packages and FX table, Administration's
counting accreditations and complaints, Development's gaps, initiatives and assessment points,
and Promotion's overall attribution and provider performance. So
``12 + segments + ceil(specialties / 100) + markets`` calls (each list walks its pages, 500
items a call), ``Found.calls``; the slowest chain (segments, then attractiveness) sets the
time, not the sum. Which segments are ready is the coordinator's own readiness, read from its
read model (the rules and data of ``GET /segments/{id}/readiness`` and the launch action), for
the active segments and every segment a campaign names. Every figure comes from pillars that
all answered: when one does not, the request fails with a problem naming each that failed
(``pentad.client.ask``), never a scorecard computed from part of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.client import ask
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient
from services.dmo import offer
from services.dmo.models import RmSegment
from services.dmo.scorecard import Found
from services.integration.client import IntegrationClient
from services.integration.schemas import Coverage
from services.promotion.client import Attribution, CampaignRef, PromotionClient
from services.segmentation.client import AttractivenessRef, SegmentationClient, SegmentRef

_NOT_GUESSED = "The scorecard is computed only from every pillar's figures, none guessed"
COVERAGE_BATCH = 100  # specialties per coverage call (Integration's limit)
FIRST_CALLS = 12  # whatever the destination's size: segments, campaigns and the ten beside them

READINESS_SOURCE = "dmo: the coordinator's read model (GET /dmo/segments/{id}/readiness: ready)"
ReadyOf = Callable[[Sequence[str]], Awaitable[dict[str, bool]]]


@dataclass(frozen=True, slots=True)
class Pillars:
    segmentation: SegmentationClient
    integration: IntegrationClient
    administration: AdministrationClient
    development: DevelopmentClient
    promotion: PromotionClient


async def readiness(session: AsyncSession, segment_ids: Sequence[str], *, clock: offer.Clock) -> dict[str, bool]:
    """Which of these segments are ready: the one place the scorecard learns it, the
    coordinator's own readiness on its read model. A segment it does not know is not ready."""
    wanted = sorted(set(segment_ids))
    known = (await session.scalars(sa.select(RmSegment).where(RmSegment.id.in_(wanted)))).all() if wanted else []
    return {s.id: (await offer.readiness_of(session, s, clock=clock)).ready for s in known}


async def gather(pillars: Pillars, *, today: date, ready_of: ReadyOf) -> Found:
    """Every pillar's figures; ``ready_of`` says which of the segments named are ready."""
    ((segments, attractiveness, coverage), (campaigns, by_market), stakeholders, packages, fx, accreditations,
     complaints, gaps, initiatives, points, attribution, performance) = await ask(
        _segment_side(pillars), _campaign_side(pillars), pillars.integration.stakeholders(),
        pillars.integration.packages(), pillars.integration.fx_rates(),
        pillars.administration.accreditations(status=("valid", "expiring")), pillars.administration.complaints(),
        pillars.development.gaps(), pillars.development.initiatives(), pillars.development.assessment_points(),
        pillars.promotion.attribution(), pillars.promotion.provider_performance(), why=_NOT_GUESSED)
    specialties = {s for segment in segments for s in segment.specialties}
    named = [s.id for s in segments] + [s for c in campaigns for s in c.segment_ids]
    return Found(
        today=today, segments=segments, attractiveness=attractiveness, stakeholders=stakeholders,
        coverage=coverage, packages=packages, fx=fx, accreditations=accreditations, complaints=complaints,
        gaps=gaps, ready=await ready_of(named), initiatives=initiatives, assessments=points,
        campaigns=campaigns, attribution=attribution, by_market=by_market, performance=performance,
        calls=FIRST_CALLS + len(segments) + len(_batches(sorted(specialties))) + len(by_market))


async def _segment_side(pillars: Pillars) -> tuple[list[SegmentRef], dict[str, AttractivenessRef], list[Coverage]]:
    """The active segments, then each one's attractiveness and the coverage of their specialties."""
    segments: list[SegmentRef] = await pillars.segmentation.segments()
    batches = _batches(sorted({s for segment in segments for s in segment.specialties}))
    answers = await ask(*(pillars.segmentation.attractiveness(s.id) for s in segments),
                        *(pillars.integration.coverage(batch) for batch in batches), why=None)
    scores, covered = answers[:len(segments)], answers[len(segments):]
    return segments, {s.id: a for s, a in zip(segments, scores, strict=True)}, [c for b in covered for c in b]


async def _campaign_side(pillars: Pillars) -> tuple[list[CampaignRef], dict[str, Attribution]]:
    """Every campaign, then the funnel of each source market they name."""
    campaigns: list[CampaignRef] = await pillars.promotion.campaigns()
    markets = sorted({m for campaign in campaigns for m in campaign.source_markets})
    funnels = await ask(*(pillars.promotion.attribution(source_market=m) for m in markets), why=None)
    return campaigns, dict(zip(markets, funnels, strict=True))


def _batches(specialties: list[str]) -> list[list[str]]:
    return [specialties[i:i + COVERAGE_BATCH] for i in range(0, len(specialties), COVERAGE_BATCH)]
