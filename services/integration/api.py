"""Routes of the Integration service (thin: the logic lives in service.py, capacity.py, packages.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from pentad.client import UpstreamError, client_of
from pentad.codes import currency_param
from pentad.deps import CurrentCaller, CurrentSettings, RequireStaff, Session
from pentad.etag import check_if_match, set_etag
from pentad.pagination import Page, Paging
from services.integration import capacity, packages, service
from services.integration.schemas import (
    CapacityResult,
    CapacityRow,
    Coverage,
    FxRates,
    FxRatesOut,
    Kind,
    PackageIn,
    PackageOut,
    PackagePatch,
    PackageStatus,
    StakeholderIn,
    StakeholderOut,
    StakeholderPatch,
    StakeholderStatus,
    capacity_batch_schema,
)
from services.segmentation.client import SegmentationClient, SpecialtyVocabulary

router = APIRouter()
Segmentation = Annotated[SegmentationClient, Depends(client_of(SegmentationClient))]


async def _known(request: Request, client: SegmentationClient, wanted: Iterable[str]) -> frozenset[str]:
    """The vocabulary, refreshed once if it lacks a wanted code (it may have just been added)."""
    vocabulary: SpecialtyVocabulary = request.state.vocabulary
    known = await vocabulary.codes(client)
    if not set(wanted) <= known:
        known = await vocabulary.codes(client, refresh=True)
    return known


# -- stakeholders -------------------------------------------------------------------------------

@router.post("/stakeholders", response_model=StakeholderOut, status_code=201, tags=["stakeholders"],
             summary="Register a stakeholder")
async def create_stakeholder(stakeholder_in: StakeholderIn, session: Session, _: RequireStaff, request: Request,
                             segmentation: Segmentation, response: Response) -> StakeholderOut:
    # A hotel, transfer firm or insurer offers no specialty: no need to ask Segmentation.
    known = await _known(request, segmentation, stakeholder_in.specialties) if stakeholder_in.specialties \
        else frozenset()
    stakeholder = await service.create(session, stakeholder_in=stakeholder_in, known_specialties=known)
    set_etag(response, stakeholder.version)
    response.headers["Location"] = f"/stakeholders/{stakeholder.id}"
    return StakeholderOut.model_validate(stakeholder)


@router.get("/stakeholders", response_model=Page[StakeholderOut], tags=["stakeholders"],
            summary="The register (a provider sees itself; a facilitator the active register)")
async def list_stakeholders(session: Session, caller: CurrentCaller, paging: Paging, kind: Kind | None = None,
                            country: Annotated[str | None, Query(examples=["HR"])] = None,
                            city: str | None = None, specialty: str | None = None,
                            status: StakeholderStatus | None = None) -> Page[StakeholderOut]:
    rows, cursor = await service.list_(session, caller=caller, paging=paging, kind=kind,
                                       country=country.upper() if country else None, city=city,
                                       specialty=specialty, status=status)
    return Page[StakeholderOut](items=[StakeholderOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/stakeholders/{stakeholder_id}", response_model=StakeholderOut, tags=["stakeholders"],
            summary="One stakeholder")
async def get_stakeholder(stakeholder_id: str, session: Session, caller: CurrentCaller,
                          response: Response) -> StakeholderOut:
    stakeholder = await service.get_or_raise(session, stakeholder_id=stakeholder_id)
    service.ensure_visible(caller, stakeholder)
    set_etag(response, stakeholder.version)
    return StakeholderOut.model_validate(stakeholder)


@router.patch("/stakeholders/{stakeholder_id}", response_model=StakeholderOut, tags=["stakeholders"],
              summary="Change a stakeholder (If-Match honoured); a provider only its own services")
async def update_stakeholder(stakeholder_id: str, patch: StakeholderPatch, session: Session,
                             caller: CurrentCaller, request: Request, segmentation: Segmentation,
                             response: Response,
                             if_match: Annotated[str | None, Header()] = None) -> StakeholderOut:
    service.ensure_own(caller, stakeholder_id)
    # Remote lookups before the first statement: on SQLite a write transaction holds the lock.
    known = await _known(request, segmentation, patch.specialties) if patch.specialties else frozenset()
    stakeholder = await service.get_or_raise(session, stakeholder_id=stakeholder_id, for_update=True)
    check_if_match(if_match, stakeholder.version)
    stakeholder = await service.update(session, caller=caller, stakeholder=stakeholder, patch=patch,
                                       known_specialties=known)
    set_etag(response, stakeholder.version)
    return StakeholderOut.model_validate(stakeholder)


# -- capacity -----------------------------------------------------------------------------------

@router.post("/stakeholders/{stakeholder_id}/capacity", response_model=CapacityResult, tags=["capacity"],
             summary="Post capacity rows (upsert on specialty and date; up to 10,000 a request)",
             description="Valid rows are applied and re-confirmed; each bad row is reported in `rejected` "
                         "with its index and reason. Send an `Idempotency-Key` so a retried batch is a no-op.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": capacity_batch_schema()}}}})
async def post_capacity(stakeholder_id: str, session: Session, caller: CurrentCaller,
                        request: Request, segmentation: Segmentation) -> CapacityResult:
    service.ensure_own(caller, stakeholder_id)
    rows = capacity.parse_batch(await request.body())
    try:  # before the first statement: on SQLite a write transaction holds the lock
        vocabulary: frozenset[str] | None = await _known(request, segmentation, ())
    except UpstreamError:
        vocabulary = None  # the feed must not stop because Segmentation is down
    stakeholder = await service.get_or_raise(session, stakeholder_id=stakeholder_id)
    return await capacity.upsert(session, stakeholder=stakeholder, rows=rows, vocabulary=vocabulary)


@router.get("/stakeholders/{stakeholder_id}/capacity", response_model=Page[CapacityRow], tags=["capacity"],
            summary="Capacity rows by date, each marked stale or fresh")
async def get_capacity(stakeholder_id: str, session: Session, caller: CurrentCaller, settings: CurrentSettings,
                       paging: Paging, specialty: str | None = None,
                       from_: Annotated[date | None, Query(alias="from")] = None,
                       to: date | None = None) -> Page[CapacityRow]:
    service.ensure_own(caller, stakeholder_id)
    await service.get_or_raise(session, stakeholder_id=stakeholder_id)
    rows, cursor = await capacity.list_(
        session, stakeholder_id=stakeholder_id, limit=paging.limit, cursor=paging.raw_cursor,
        specialty=specialty, from_=from_, to=to, fresh_since=service.fresh_since(settings.stale_after_days))
    return Page[CapacityRow](items=rows, next_cursor=cursor)


@router.get("/coverage", response_model=Page[Coverage], tags=["capacity"],
            summary="How well the destination covers specialties now (providers, fresh slots this week)")
async def get_coverage(session: Session, _: CurrentCaller, settings: CurrentSettings,
                       specialty: Annotated[list[str], Query(min_length=1, max_length=100)]) -> Page[Coverage]:
    items = await service.coverage(session, specialties=list(dict.fromkeys(specialty)),
                                   stale_after_days=settings.stale_after_days)
    return Page[Coverage](items=items)


# -- packages and FX ----------------------------------------------------------------------------

@router.post("/packages", response_model=PackageOut, status_code=201, tags=["packages"],
             summary="Bundle treatment, stay, transfer and aftercare into a package")
async def create_package(package_in: PackageIn, session: Session, _: RequireStaff,
                         response: Response) -> PackageOut:
    package = await packages.create(session, package_in=package_in)
    set_etag(response, package.version)
    response.headers["Location"] = f"/packages/{package.id}"
    return packages.present(package, await packages.fx_table(session))


@router.get("/packages", response_model=Page[PackageOut], tags=["packages"],
            summary="Packages (only published ones for providers and facilitators)")
async def list_packages(session: Session, caller: CurrentCaller, paging: Paging, specialty: str | None = None,
                        stakeholder_id: str | None = None, status: PackageStatus | None = None,
                        currency: Annotated[str | None, Query(examples=["GBP"])] = None) -> Page[PackageOut]:
    rows, cursor = await packages.list_(session, caller=caller, paging=paging, specialty=specialty,
                                        stakeholder_id=stakeholder_id, status=status)
    table = await packages.fx_table(session)
    return Page[PackageOut](items=[packages.present(p, table, currency_param(currency)) for p in rows],
                            next_cursor=cursor)


@router.get("/packages/{package_id}", response_model=PackageOut, tags=["packages"],
            summary="One package, its total in `currency` and the FX rates used")
async def get_package(package_id: str, session: Session, caller: CurrentCaller, response: Response,
                      currency: Annotated[str | None, Query(examples=["GBP"])] = None) -> PackageOut:
    package = await packages.get_or_raise(session, package_id=package_id, caller=caller)
    set_etag(response, package.version)
    return packages.present(package, await packages.fx_table(session), currency_param(currency))


@router.patch("/packages/{package_id}", response_model=PackageOut, tags=["packages"],
              summary="Rename, withdraw or republish a package (If-Match honoured)")
async def update_package(package_id: str, patch: PackagePatch, session: Session, caller: RequireStaff,
                         response: Response, if_match: Annotated[str | None, Header()] = None) -> PackageOut:
    package = await packages.get_or_raise(session, package_id=package_id, caller=caller, for_update=True)
    check_if_match(if_match, package.version)
    package = await packages.update(session, package=package, patch=patch)
    set_etag(response, package.version)
    return packages.present(package, await packages.fx_table(session))


@router.get("/fx-rates", response_model=FxRatesOut, tags=["fx"], summary="The DMO's FX table")
async def get_fx_rates(session: Session, _: RequireStaff, response: Response) -> FxRatesOut:
    table = await packages.fx_table(session)
    set_etag(response, table.version)
    return FxRatesOut(base=table.base, rates=packages.rates_of(table), updated_at=table.updated_at)


@router.put("/fx-rates", response_model=FxRatesOut, tags=["fx"], summary="Replace the FX table")
async def put_fx_rates(fx_in: FxRates, session: Session, _: RequireStaff, response: Response,
                       if_match: Annotated[str | None, Header()] = None) -> FxRatesOut:
    check_if_match(if_match, (await packages.fx_table(session)).version)
    table = await packages.replace_fx(session, fx_in=fx_in)
    set_etag(response, table.version)
    return FxRatesOut(base=table.base, rates=packages.rates_of(table), updated_at=table.updated_at)
