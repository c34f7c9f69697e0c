"""What the scorecard reads from the five pillars, through their typed clients only.

One scorecard asks, all at once: Segmentation's active segments, then (as soon as they are
in) one attractiveness per active segment and one Integration coverage call per 100 of their
specialties; Promotion's campaigns, then one attribution per source market they name;
and, beside those, Integration's register, published packages and FX table, Administration's
counting accreditations and complaints, Development's gaps, initiatives and assessment points,
and Promotion's overall attribution and provider performance. So
``12 + segments + ceil(specialties / 100) + markets`` calls (each list walks its pages, 500
items a call), ``Found.calls``; the slowest chain (segments, then attractiveness) sets the
time, not the sum. Every figure comes from pillars that all answered: when one does not, the
request fails with a problem naming each that failed (``pentad.client.ask``), never a
scorecard computed from part of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pentad.client import ask
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient, GapRef
from services.dmo.scorecard import Found
from services.integration.client import IntegrationClient
from services.integration.schemas import Coverage
from services.promotion.client import Attribution, CampaignRef, PromotionClient
from services.segmentation.client import AttractivenessRef, SegmentationClient, SegmentRef

_NOT_GUESSED = "The scorecard is computed only from every pillar's figures, none guessed"
COVERAGE_BATCH = 100  # specialties per coverage call (Integration's limit)
FIRST_CALLS = 12  # whatever the destination's size: segments, campaigns and the ten beside them

READINESS_SOURCE = "development: GET /gaps (met = ready)"


@dataclass(frozen=True, slots=True)
class Pillars:
    segmentation: SegmentationClient
    integration: IntegrationClient
    administration: AdministrationClient
    development: DevelopmentClient
    promotion: PromotionClient


async def readiness(pillars: Pillars, *, gaps: Sequence[GapRef]) -> dict[str, bool]:
    """Which segments are ready: the one place the scorecard learns it.

    For now Development's gap analysis (a met gap is a ready segment), read once per scorecard
    with the development pillar's figures; the coordinator's own readiness (its read model)
    takes this place when the two land together. A segment absent from the answer (retired,
    unknown) is not ready.
    """
    return {gap.segment_id: gap.met for gap in gaps}


async def gather(pillars: Pillars, *, today: date) -> Found:
    ((segments, attractiveness, coverage), (campaigns, by_market), stakeholders, packages, fx, accreditations,
     complaints, gaps, initiatives, points, attribution, performance) = await ask(
        _segment_side(pillars), _campaign_side(pillars), pillars.integration.stakeholders(),
        pillars.integration.packages(), pillars.integration.fx_rates(),
        pillars.administration.accreditations(status=("valid", "expiring")), pillars.administration.complaints(),
        pillars.development.gaps(), pillars.development.initiatives(), pillars.development.assessment_points(),
        pillars.promotion.attribution(), pillars.promotion.provider_performance(), why=_NOT_GUESSED)
    specialties = {s for segment in segments for s in segment.specialties}
    return Found(
        today=today, segments=segments, attractiveness=attractiveness, stakeholders=stakeholders,
        coverage=coverage, packages=packages, fx=fx, accreditations=accreditations, complaints=complaints,
        gaps=gaps, ready=await readiness(pillars, gaps=gaps), initiatives=initiatives, assessments=points,
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
