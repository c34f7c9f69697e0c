"""Routes of the Segmentation service (thin: the logic lives in service.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from pentad.client import client_of
from pentad.codes import CountryCode, LanguageCode, SpecialtyCode
from pentad.deps import CurrentCaller, IfMatch, RequireStaff, Session
from pentad.etag import check_if_match, set_etag
from pentad.pagination import Page, Paging
from pentad.present import page_answer, present
from services.integration.client import IntegrationClient
from services.segmentation import service
from services.segmentation.models import Segment
from services.segmentation.schemas import (
    Attractiveness,
    Family,
    PayerType,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    SegmentStatus,
    SpecialtyIn,
    SpecialtyOut,
)

router = APIRouter()
Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]


async def _segment(segment_id: str, session: Session) -> Segment:
    return await service.get_or_raise(session, segment_id=segment_id)


async def _segment_to_change(segment_id: str, session: Session) -> Segment:
    """Locked (PostgreSQL) so concurrent changes queue; If-Match is checked by the route, after
    the body is validated: a bad body is a 422 whatever the precondition."""
    return await service.get_or_raise(session, segment_id=segment_id, for_update=True)


SegmentById = Annotated[Segment, Depends(_segment)]
SegmentToChange = Annotated[Segment, Depends(_segment_to_change)]


@router.get("/specialties", response_model=Page[SpecialtyOut], tags=["specialties"],
            summary="The specialty vocabulary (codes used by segments, stakeholders, capacity)")
async def list_specialties(session: Session, _: CurrentCaller, paging: Paging,
                           family: Family | None = None) -> Page[SpecialtyOut]:
    rows, cursor = await service.list_specialties(session, paging=paging, family=family)
    return Page[SpecialtyOut](items=[SpecialtyOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post("/specialties", response_model=SpecialtyOut, status_code=201, tags=["specialties"],
             summary="Add a specialty to the vocabulary")
async def create_specialty(specialty_in: SpecialtyIn, session: Session, _: RequireStaff) -> SpecialtyOut:
    return SpecialtyOut.model_validate(await service.create_specialty(session, specialty_in=specialty_in))


@router.post("/segments", response_model=SegmentOut, status_code=201, tags=["segments"],
             summary="Define a patient segment")
async def create_segment(segment_in: SegmentIn, session: Session, _: RequireStaff,
                         response: Response) -> SegmentOut:
    segment = await service.create(session, segment_in=segment_in)
    set_etag(response, segment.version)
    response.headers["Location"] = f"/segments/{segment.id}"
    return SegmentOut.model_validate(segment)


@router.get("/segments", response_model=Page[SegmentOut], tags=["segments"],
            summary="Segments, filtered the way facilitators ask")
async def list_segments(
    session: Session, _: CurrentCaller, paging: Paging,
    market: Annotated[CountryCode | None, Query(description="ISO 3166-1 alpha-2 source market")] = None,
    specialty: SpecialtyCode | None = None,
    family: Family | None = None,
    payer_type: PayerType | None = None,
    language: Annotated[LanguageCode | None, Query(description="ISO 639-1")] = None,
    status: SegmentStatus = SegmentStatus.active,
) -> Response:
    if specialty is not None:
        await service.check_specialty_filter(session, specialty)
    rows, cursor = await service.list_(
        session, paging=paging, family=family, status=status, specialty=specialty, market=market,
        payer_type=payer_type, language=language)
    return page_answer(SegmentOut, [present(SegmentOut, r) for r in rows], cursor)


@router.get("/segments/{segment_id}", response_model=SegmentOut, tags=["segments"], summary="One segment")
async def get_segment(segment: SegmentById, _: CurrentCaller, response: Response) -> SegmentOut:
    set_etag(response, segment.version)
    return present(SegmentOut, segment)


@router.patch("/segments/{segment_id}", response_model=SegmentOut, tags=["segments"],
              summary="Change a segment (If-Match honoured); status=retired retires it")
async def update_segment(_: RequireStaff, segment: SegmentToChange, patch: SegmentPatch, session: Session,
                         response: Response, if_match: IfMatch = None) -> SegmentOut:
    check_if_match(if_match, segment.version)
    segment = await service.update(session, segment=segment, patch=patch)
    set_etag(response, segment.version)
    return SegmentOut.model_validate(segment)


@router.get("/segments/{segment_id}/attractiveness", response_model=Attractiveness, tags=["segments"],
            summary="How attractive the segment is, with every component of the score",
            description=service.METHOD)
async def get_attractiveness(found: SegmentById, _: CurrentCaller, integration: Integration) -> Attractiveness:
    segment = SegmentOut.model_validate(found)
    fx, coverage = await asyncio.gather(integration.fx_rates(), integration.coverage(segment.specialties))
    return service.attractiveness(segment, fx=fx, coverage=coverage)
