"""What the scorecard reads from the five pillars, through their typed clients only.

One scorecard is two concurrent waves of calls:
1. twelve calls, all at once: Segmentation's active segments; Integration's register, published
   packages and FX table; Administration's counting accreditations and complaints; Development's
   gaps, initiatives and assessment points; Promotion's campaigns, overall attribution and
   provider performance;
2. then, all at once: one attractiveness per active segment (Segmentation), one coverage call per
   100 specialties of the active segments (Integration), one attribution per source market the
   campaigns name (Promotion).
So ``12 + segments + ceil(specialties / 100) + markets`` calls (each list walks its pages, 500
items a call); ``Found.calls`` counts them. Every figure comes from pillars that all answered:
when one does not, the request fails with a problem naming it (``pentad.client.ask``), never a
scorecard computed from part of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pentad.client import ask
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient, GapRef
from services.dmo.scorecard import Found
from services.integration.client import IntegrationClient
from services.integration.schemas import Coverage
from services.promotion.client import Attribution, PromotionClient
from services.segmentation.client import AttractivenessRef, SegmentationClient

_NOT_GUESSED = "The scorecard is computed only from every pillar's figures, none guessed"
COVERAGE_BATCH = 100  # specialties per coverage call (Integration's limit)
FIRST_WAVE = 12

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
    (segments, stakeholders, packages, fx, accreditations, complaints, gaps, initiatives, points, campaigns,
     attribution, performance) = await _ask(
        pillars.segmentation.segments(), pillars.integration.stakeholders(), pillars.integration.packages(),
        pillars.integration.fx_rates(), pillars.administration.accreditations(status=("valid", "expiring")),
        pillars.administration.complaints(), pillars.development.gaps(), pillars.development.initiatives(),
        pillars.development.assessment_points(), pillars.promotion.campaigns(), pillars.promotion.attribution(),
        pillars.promotion.provider_performance())
    specialties = sorted({s for segment in segments for s in segment.specialties})
    markets = sorted({m for campaign in campaigns for m in campaign.source_markets})
    attractiveness, coverage, by_market = await _second_wave(pillars, [s.id for s in segments], specialties,
                                                             markets)
    return Found(
        today=today, segments=segments, attractiveness=attractiveness, stakeholders=stakeholders,
        coverage=coverage, packages=packages, fx=fx, accreditations=accreditations, complaints=complaints,
        gaps=gaps, ready=await readiness(pillars, gaps=gaps), initiatives=initiatives, assessments=points,
        campaigns=campaigns, attribution=attribution, by_market=by_market, performance=performance,
        calls=FIRST_WAVE + len(segments) + len(_batches(specialties)) + len(markets))


async def _second_wave(pillars: Pillars, segment_ids: list[str], specialties: list[str], markets: list[str]
                       ) -> tuple[Mapping[str, AttractivenessRef], list[Coverage], Mapping[str, Attribution]]:
    batches = _batches(specialties)
    calls: list[Awaitable[Any]] = [
        *(pillars.segmentation.attractiveness(i) for i in segment_ids),
        *(pillars.integration.coverage(batch) for batch in batches),
        *(pillars.promotion.attribution(source_market=m) for m in markets)]
    answers = await _ask(*calls)
    scores = answers[:len(segment_ids)]
    covered = answers[len(segment_ids):len(segment_ids) + len(batches)]
    attributed = answers[len(segment_ids) + len(batches):]
    return (dict(zip(segment_ids, scores, strict=True)), [c for batch in covered for c in batch],
            dict(zip(markets, attributed, strict=True)))


def _batches(specialties: list[str]) -> list[list[str]]:
    return [specialties[i:i + COVERAGE_BATCH] for i in range(0, len(specialties), COVERAGE_BATCH)]


async def _ask(*calls: Awaitable[Any]) -> list[Any]:
    return await ask(*calls, why=_NOT_GUESSED)
