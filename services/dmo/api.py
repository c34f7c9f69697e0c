"""Routes of the DMO coordinator service (thin: the logic lives in service.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from pentad.client import client_of
from pentad.db import Database
from pentad.deps import Session, require
from pentad.errors import PROBLEM_RESPONSES
from pentad.identity import Role
from pentad.state import state_of
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient
from services.dmo import scorecard, scorecard_snapshots, scorecard_sources
from services.dmo.schemas import Scorecard
from services.integration.client import IntegrationClient
from services.promotion.client import PromotionClient
from services.segmentation.client import SegmentationClient

router = APIRouter()


# -- scorecard ----------------------------------------------------------------------------------
# Staff and admin only, facilitators and providers included in nothing: the figures name
# providers' accreditation lapses and complaints, and the DMO's spend (its own working
# knowledge, as Development's gaps are); what facilitators may read is the offer.

async def _scorecard_pillars(
        segmentation: Annotated[SegmentationClient, Depends(client_of(SegmentationClient))],
        integration: Annotated[IntegrationClient, Depends(client_of(IntegrationClient))],
        administration: Annotated[AdministrationClient, Depends(client_of(AdministrationClient))],
        development: Annotated[DevelopmentClient, Depends(client_of(DevelopmentClient))],
        promotion: Annotated[PromotionClient, Depends(client_of(PromotionClient))]) -> scorecard_sources.Pillars:
    return scorecard_sources.Pillars(segmentation=segmentation, integration=integration,
                                     administration=administration, development=development, promotion=promotion)


async def _database(request: Request) -> Database:
    return state_of(request)["db"]


@router.get("/scorecard", response_model=Scorecard, tags=["scorecard"],
            dependencies=[Depends(require(Role.admin, Role.staff))],
            responses={502: PROBLEM_RESPONSES[409] | {"description": "A pillar answered an error (named)"},
                       503: PROBLEM_RESPONSES[409] | {"description": "A pillar did not answer (named)"}},
            summary="The five pillars side by side, the broad-brush index and the six attributes, with trends",
            description=scorecard.__doc__ + "\n\n" + scorecard_sources.__doc__ + "\n\n"
            + scorecard_snapshots.__doc__)
async def get_scorecard(pillars: Annotated[scorecard_sources.Pillars, Depends(_scorecard_pillars)],
                        session: Session, db: Annotated[Database, Depends(_database)]) -> Scorecard:
    now = datetime.now(UTC)
    found = await scorecard_sources.gather(pillars, today=now.date())
    card = scorecard.compute(found, snapshots=await scorecard_snapshots.history(session), computed_at=now,
                             readiness_source=scorecard_sources.READINESS_SOURCE)
    await scorecard_snapshots.keep(db, on=found.today, values=scorecard.values_of(card))
    return card
