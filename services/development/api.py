"""Routes of the Development service (thin: the logic lives in gaps.py, assessments.py, initiatives.py).

Every route is for DMO staff (and admin): gaps say where the destination falls short,
which is the DMO's own working knowledge, not something providers or facilitators read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from pentad.client import client_of
from pentad.deps import IfMatch, Session, require
from pentad.etag import check_if_match, set_etag
from pentad.identity import Role
from pentad.pagination import Page, Paging
from services.administration.client import AdministrationClient
from services.development import assessments, gaps, initiatives, sources
from services.development.models import Initiative
from services.development.schemas import (
    AssessmentIn,
    AssessmentOut,
    AssessmentPoint,
    GapKind,
    GapPage,
    InitiativeIn,
    InitiativeOut,
    InitiativePatch,
    InitiativeStatus,
)
from services.integration.client import IntegrationClient
from services.segmentation.client import SegmentationClient

# Every route needs staff: the dependency sits on the router, so no route can forget it.
router = APIRouter(dependencies=[Depends(require(Role.admin, Role.staff))])

Segmentation = Annotated[SegmentationClient, Depends(client_of(SegmentationClient))]


async def _pillars(segmentation: Segmentation,
                   integration: Annotated[IntegrationClient, Depends(client_of(IntegrationClient))],
                   administration: Annotated[AdministrationClient, Depends(client_of(AdministrationClient))]
                   ) -> sources.Pillars:
    return sources.Pillars(segmentation=segmentation, integration=integration, administration=administration)


Pillars = Annotated[sources.Pillars, Depends(_pillars)]


def _today() -> date:
    return datetime.now(UTC).date()


async def _initiative(initiative_id: str, session: Session) -> Initiative:
    return await initiatives.get_or_raise(session, initiative_id=initiative_id)


async def _initiative_to_change(initiative_id: str, session: Session) -> Initiative:
    """Locked (PostgreSQL); the route checks If-Match once the body is valid (a bad body is a 422)."""
    return await initiatives.get_or_raise(session, initiative_id=initiative_id, for_update=True)


InitiativeById = Annotated[Initiative, Depends(_initiative)]
InitiativeToChange = Annotated[Initiative, Depends(_initiative_to_change)]


# -- gaps ---------------------------------------------------------------------------------------

@router.get("/gaps", response_model=GapPage, tags=["gaps"], description=gaps.METHOD,
            summary="Each segment's threshold against what the destination has now, and the shortfalls")
async def get_gaps(pillars: Pillars, segment_id: Annotated[str | None, Query(
        min_length=1, max_length=40, description="One segment (any status); left out, every active one.")] = None
                   ) -> GapPage:
    wanted = await sources.segments(pillars, segment_id=segment_id)
    items = []
    if wanted:
        found = await sources.found_for(pillars, wanted, today=_today())
        items = [gaps.analyse(segment, found) for segment in wanted]
    return GapPage(items=items, method=gaps.METHOD, computed_at=datetime.now(UTC))


# -- assessments --------------------------------------------------------------------------------

@router.post("/assessments", response_model=AssessmentOut, status_code=201, tags=["assessments"],
             summary="Record a dated snapshot of every active segment's gaps (or figures measured earlier)",
             description=assessments.__doc__)
async def record_assessment(assessment_in: AssessmentIn, pillars: Pillars, session: Session,
                            response: Response) -> AssessmentOut:
    today = _today()
    source, found = await assessments.snapshot(pillars, assessment_in=assessment_in, today=today)
    assessment = await assessments.record(session, assessment_in=assessment_in, source=source, found=found,
                                          today=today)
    response.headers["Location"] = f"/assessments/{assessment.id}"
    return assessments.present(assessment)


@router.get("/assessments", response_model=Page[AssessmentPoint], tags=["assessments"],
            summary="A segment's assessment history, oldest first (all segments' when left out)")
async def list_assessments(session: Session, paging: Paging, segment_id: str | None = None) -> Page[AssessmentPoint]:
    rows, cursor = await assessments.history(session, paging=paging, segment_id=segment_id)
    return Page[AssessmentPoint](items=[AssessmentPoint.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"],
            summary="One assessment: every segment's gap with the inputs it came from")
async def get_assessment(assessment_id: str, session: Session) -> AssessmentOut:
    return assessments.present(await assessments.get_or_raise(session, assessment_id=assessment_id))


# -- initiatives --------------------------------------------------------------------------------

@router.post("/initiatives", response_model=InitiativeOut, status_code=201, tags=["initiatives"],
             summary="Propose an initiative to close a segment's gap")
async def create_initiative(initiative_in: InitiativeIn, segmentation: Segmentation, session: Session,
                            response: Response) -> InitiativeOut:
    segment = await segmentation.segment(initiative_in.segment_id)  # before the first statement (SQLite lock)
    initiative = await initiatives.create(session, initiative_in=initiative_in, segment=segment)
    set_etag(response, initiative.version)
    response.headers["Location"] = f"/initiatives/{initiative.id}"
    return initiatives.present(initiative, on=_today())


@router.get("/initiatives", response_model=Page[InitiativeOut], tags=["initiatives"], summary="Initiatives")
async def list_initiatives(session: Session, paging: Paging, segment_id: str | None = None,
                           status: InitiativeStatus | None = None, gap: GapKind | None = None) -> Page[InitiativeOut]:
    rows, cursor = await initiatives.list_(session, paging=paging, segment_id=segment_id, status=status, gap=gap)
    on = _today()
    return Page[InitiativeOut](items=[initiatives.present(r, on=on) for r in rows], next_cursor=cursor)


@router.get("/initiatives/{initiative_id}", response_model=InitiativeOut, tags=["initiatives"],
            summary="One initiative, its progress and overdue milestones")
async def get_initiative(initiative: InitiativeById, response: Response) -> InitiativeOut:
    set_etag(response, initiative.version)
    return initiatives.present(initiative, on=_today())


@router.patch("/initiatives/{initiative_id}", response_model=InitiativeOut, tags=["initiatives"],
              summary="Change an initiative or move its status (legal steps only; If-Match honoured)",
              description="proposed → approved | cancelled; approved → in_progress | cancelled; "
                          "in_progress → done | cancelled. `done` needs every milestone done; `cancelled` a "
                          "`status_reason`. A done or cancelled initiative no longer changes.")
async def update_initiative(patch: InitiativePatch, initiative: InitiativeToChange, session: Session,
                            response: Response, if_match: IfMatch = None) -> InitiativeOut:
    check_if_match(if_match, initiative.version)
    initiative = await initiatives.update(session, initiative=initiative, patch=patch)
    set_etag(response, initiative.version)
    return initiatives.present(initiative, on=_today())
