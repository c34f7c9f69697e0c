"""Routes of the Integration service (thin: the logic lives in stakeholders.py, capacity.py, packages.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response

from pentad.client import UpstreamError, client_of
from pentad.codes import CountryCode, SpecialtyCode, currency_param
from pentad.deps import CurrentCaller, CurrentSettings, Dates, IfMatch, RequireStaff, Session
from pentad.etag import check_if_match, set_etag
from pentad.pagination import Page, PageParams, Paging
from pentad.present import page_answer
from pentad.schemas import IsoDate
from pentad.state import State, state_of
from services.integration import capacity, packages, proposals, stakeholders, supply
from services.integration.models import Package, Stakeholder
from services.integration.schemas import (
    ApprovalIn,
    CapacityListed,
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
    ProposalState,
    RejectionIn,
    StakeholderIn,
    StakeholderOut,
    StakeholderPatch,
    StakeholderStatus,
    WeeklyCapacity,
    capacity_batch_schema,
)
from services.segmentation.client import SegmentationClient, SpecialtyVocabulary

router = APIRouter()
segmentation_client = client_of(SegmentationClient)
Segmentation = Annotated[SegmentationClient, Depends(segmentation_client)]


class IntegrationState(State):
    vocabulary: SpecialtyVocabulary  # see app.py


async def _vocabulary(request: Request) -> SpecialtyVocabulary:
    return cast(IntegrationState, state_of(request))["vocabulary"]


Vocabulary = Annotated[SpecialtyVocabulary, Depends(_vocabulary)]


async def _known(vocabulary: SpecialtyVocabulary, client: SegmentationClient, wanted: Iterable[str]
                 ) -> frozenset[str]:
    """The vocabulary, refreshed once if it lacks a wanted code (it may have just been added).
    Called before the route's first statement: on SQLite a write transaction holds the lock."""
    known = await vocabulary.codes(client)
    if not set(wanted) <= known:
        known = await vocabulary.codes(client, refresh=True)
    return known


# The package keeps its own currency and total; the one asked for comes apart, in `total_in`.
AskedCurrency = Annotated[str | None, Query(examples=["GBP"], description=(
    "Also give each total in this ISO 4217 currency (`total_in`, with the rates used in `fx_rates`)."))]


async def _known_specialty(request: Request, specialty: SpecialtyCode | None = None) -> str | None:
    """A ``?specialty=`` filter checked like a specialty in a body: an unknown one is a 422
    (with the closest code), not an empty list; unchecked while Segmentation cannot say.
    The vocabulary and client are taken only when a filter is given, not as sub-dependencies
    FastAPI would resolve on every list read (issue 13)."""
    if specialty is not None:
        try:
            known = await _known(await _vocabulary(request), await segmentation_client(request), [specialty])
        except UpstreamError:
            return specialty
        stakeholders.check_specialties([specialty], known, field="query.specialty", indexed=False)
    return specialty


KnownSpecialty = Annotated[str | None, Depends(_known_specialty)]


async def _known_specialties(vocabulary: Vocabulary, segmentation: Segmentation,
                             specialty: Annotated[list[SpecialtyCode], Query(min_length=1, max_length=100)]
                             ) -> list[str]:
    """``?specialty=a&specialty=b`` (one at least), each checked as one in a body."""
    wanted = list(dict.fromkeys(specialty))
    try:
        known = await _known(vocabulary, segmentation, wanted)
    except UpstreamError:
        return wanted
    stakeholders.check_specialties(wanted, known, field="query.specialty")
    return wanted


KnownSpecialties = Annotated[list[str], Depends(_known_specialties)]


# -- existence and ownership, as dependencies ------------------------------------------------------

async def _visible_stakeholder(stakeholder_id: str, session: Session, caller: CurrentCaller) -> Stakeholder:
    stakeholder = await stakeholders.get_or_raise(session, stakeholder_id=stakeholder_id)
    stakeholders.ensure_visible(caller, stakeholder)
    return stakeholder


async def _own_stakeholder_id(stakeholder_id: str, caller: CurrentCaller) -> str:
    """Writes and private reads (capacity): staff, or the stakeholder's own provider key.
    Checked from the identity alone, before any statement."""
    stakeholders.ensure_own(caller, stakeholder_id)
    return stakeholder_id


async def _own_stakeholder(stakeholder_id: Annotated[str, Depends(_own_stakeholder_id)],
                           session: Session) -> Stakeholder:
    return await stakeholders.get_or_raise(session, stakeholder_id=stakeholder_id)


async def _locked_stakeholder(stakeholder_id: str, session: Session) -> Stakeholder:
    """For a decision on the record: locked (PostgreSQL). The route checks If-Match once the
    body is valid, so a bad body is a 422 whatever the precondition."""
    return await stakeholders.get_or_raise(session, stakeholder_id=stakeholder_id, for_update=True)


async def _visible_package(package_id: str, session: Session, caller: CurrentCaller) -> Package:
    return await packages.get_or_raise(session, package_id=package_id, caller=caller)


VisibleStakeholder = Annotated[Stakeholder, Depends(_visible_stakeholder)]
OwnStakeholderId = Annotated[str, Depends(_own_stakeholder_id)]
OwnStakeholder = Annotated[Stakeholder, Depends(_own_stakeholder)]
LockedStakeholder = Annotated[Stakeholder, Depends(_locked_stakeholder)]
VisiblePackage = Annotated[Package, Depends(_visible_package)]


# -- stakeholders -------------------------------------------------------------------------------

@router.post("/stakeholders", response_model=StakeholderOut, status_code=201, tags=["stakeholders"],
             summary="Register a stakeholder")
async def create_stakeholder(stakeholder_in: StakeholderIn, session: Session, _: RequireStaff,
                             vocabulary: Vocabulary, segmentation: Segmentation, response: Response) -> StakeholderOut:
    # A hotel, transfer firm or insurer offers no specialty: no need to ask Segmentation.
    known = await _known(vocabulary, segmentation, stakeholder_in.specialties) if stakeholder_in.specialties \
        else frozenset()
    stakeholder = await stakeholders.create(session, stakeholder_in=stakeholder_in, known_specialties=known)
    set_etag(response, stakeholder.version)
    response.headers["Location"] = f"/stakeholders/{stakeholder.id}"
    return StakeholderOut.model_validate(stakeholder)


@router.get("/stakeholders", response_model=Page[StakeholderOut], tags=["stakeholders"],
            summary="The register (a provider sees itself; a facilitator the active register)",
            description="Every filter reads the approved record. `proposal=pending` lists the stakeholders "
                        "whose proposal waits for staff (not for facilitators).")
async def list_stakeholders(session: Session, caller: CurrentCaller, paging: Paging, specialty: KnownSpecialty,
                            kind: Kind | None = None, country: CountryCode | None = None, city: str | None = None,
                            status: StakeholderStatus | None = None,
                            proposal: ProposalState | None = None) -> Page[StakeholderOut]:
    rows, cursor = await stakeholders.list_(session, caller=caller, paging=paging, kind=kind, country=country,
                                            city=city, specialty=specialty, status=status, proposal=proposal)
    return Page[StakeholderOut](items=[stakeholders.present(caller, r) for r in rows], next_cursor=cursor)


@router.get("/stakeholders/{stakeholder_id}", response_model=StakeholderOut, tags=["stakeholders"],
            summary="One stakeholder")
async def get_stakeholder(stakeholder: VisibleStakeholder, caller: CurrentCaller,
                          response: Response) -> StakeholderOut:
    set_etag(response, stakeholder.version)
    return stakeholders.present(caller, stakeholder)


@router.patch("/stakeholders/{stakeholder_id}", response_model=StakeholderOut, tags=["stakeholders"],
              summary="Change a stakeholder (If-Match honoured)",
              description="Staff change any field at once. A provider changes its own `name`, `city` and "
                          "`languages` at once; its `specialties` and `kind` become a pending proposal "
                          "(`proposed_specialties`, `proposed_kind`) that counts for nothing until staff "
                          "approve it. A new proposal replaces the pending one; the approved values withdraw it.")
async def update_stakeholder(stakeholder_id: OwnStakeholderId, patch: StakeholderPatch, session: Session,
                             caller: CurrentCaller, vocabulary: Vocabulary, segmentation: Segmentation,
                             response: Response, if_match: IfMatch = None) -> StakeholderOut:
    known = await _known(vocabulary, segmentation, patch.specialties) if patch.specialties else frozenset()
    stakeholder = await stakeholders.get_or_raise(session, stakeholder_id=stakeholder_id, for_update=True)
    check_if_match(if_match, stakeholder.version)
    stakeholder = await stakeholders.update(session, caller=caller, stakeholder=stakeholder, patch=patch,
                                            known_specialties=known)
    set_etag(response, stakeholder.version)
    return stakeholders.present(caller, stakeholder)


@router.post("/stakeholders/{stakeholder_id}/proposal/approve", response_model=StakeholderOut,
             tags=["stakeholders"], summary="Approve the pending proposal (staff; If-Match honoured)",
             description="Applies the proposed specialties and kind; packages that depended on a dropped "
                         "specialty are withdrawn. 409 when no proposal is pending.")
async def approve_proposal(caller: RequireStaff, stakeholder: LockedStakeholder, session: Session,
                           response: Response, decision: ApprovalIn | None = None,
                           if_match: IfMatch = None) -> StakeholderOut:
    check_if_match(if_match, stakeholder.version)
    stakeholder = await proposals.approve(session, caller=caller, stakeholder=stakeholder,
                                          reason=decision.reason if decision else None)
    set_etag(response, stakeholder.version)
    return stakeholders.present(caller, stakeholder)


@router.post("/stakeholders/{stakeholder_id}/proposal/reject", response_model=StakeholderOut,
             tags=["stakeholders"], summary="Reject the pending proposal with a reason (staff; If-Match honoured)",
             description="The approved record stays as it is; the reason is kept in `proposal_decision`. "
                         "409 when no proposal is pending.")
async def reject_proposal(caller: RequireStaff, stakeholder: LockedStakeholder, rejection: RejectionIn,
                          session: Session, response: Response, if_match: IfMatch = None) -> StakeholderOut:
    check_if_match(if_match, stakeholder.version)
    stakeholder = await proposals.reject(session, caller=caller, stakeholder=stakeholder, reason=rejection.reason)
    set_etag(response, stakeholder.version)
    return stakeholders.present(caller, stakeholder)


# -- capacity -----------------------------------------------------------------------------------

@router.post("/stakeholders/{stakeholder_id}/capacity", response_model=CapacityResult, tags=["capacity"],
             summary="Post capacity rows (upsert on specialty and date; up to 10,000 a request)",
             description="Valid rows are applied and re-confirmed; each bad row is reported in `rejected` "
                         "with its index and reason. Send an `Idempotency-Key` so a retried batch is a no-op.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": capacity_batch_schema()}}}})
async def post_capacity(stakeholder_id: OwnStakeholderId, session: Session, request: Request,
                        vocabulary: Vocabulary, segmentation: Segmentation) -> CapacityResult:
    rows = capacity.parse_batch(await request.body())
    try:
        known: frozenset[str] | None = await _known(vocabulary, segmentation, ())
    except UpstreamError:
        known = None  # the feed must not stop because Segmentation is down
    stakeholder = await stakeholders.get_or_raise(session, stakeholder_id=stakeholder_id)
    return await capacity.upsert(session, stakeholder=stakeholder, rows=rows, vocabulary=known)


@router.get("/stakeholders/{stakeholder_id}/capacity", response_model=Page[CapacityRow], tags=["capacity"],
            summary="Capacity rows by date, each marked stale or fresh")
async def get_capacity(stakeholder: OwnStakeholder, session: Session, settings: CurrentSettings, paging: Paging,
                       dates: Dates, specialty: KnownSpecialty) -> Page[CapacityRow]:
    fresh_since = capacity.fresh_since(settings.stale_after_days)
    rows, cursor = await capacity.list_(session, stakeholder_id=stakeholder.id, paging=paging, specialty=specialty,
                                        from_=dates.from_, to=dates.to, fresh_since=fresh_since)
    return Page[CapacityRow](items=rows, next_cursor=cursor)


@router.get("/coverage", response_model=Page[Coverage], tags=["capacity"],
            summary="How well the destination covers specialties now (providers, fresh slots this week)")
async def get_coverage(session: Session, _: CurrentCaller, settings: CurrentSettings,
                       specialty: KnownSpecialties) -> Page[Coverage]:
    items = await capacity.coverage(session, specialties=specialty,
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
async def list_packages(session: Session, caller: CurrentCaller, paging: Paging,
                        specialty: KnownSpecialty, stakeholder_id: str | None = None,
                        status: PackageStatus | None = None,
                        currency: AskedCurrency = None) -> Response:
    target = currency_param(currency)
    rows, cursor = await packages.list_(session, caller=caller, paging=paging, specialty=specialty,
                                        stakeholder_id=stakeholder_id, status=status)
    table = await packages.fx_table(session)
    return page_answer(PackageOut, [packages.present(p, table, target) for p in rows], cursor)


@router.get("/packages/{package_id}", response_model=PackageOut, tags=["packages"],
            summary="One package, its total in `currency` and the FX rates used")
async def get_package(package: VisiblePackage, session: Session, response: Response,
                      currency: AskedCurrency = None) -> PackageOut:
    target = currency_param(currency)
    set_etag(response, package.version)
    return packages.present(package, await packages.fx_table(session), target)


@router.patch("/packages/{package_id}", response_model=PackageOut, tags=["packages"],
              summary="Rename, withdraw or republish a package (If-Match honoured)")
async def update_package(package_id: str, patch: PackagePatch, session: Session, caller: RequireStaff,
                         response: Response, if_match: IfMatch = None) -> PackageOut:
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
                       if_match: IfMatch = None) -> FxRatesOut:
    check_if_match(if_match, (await packages.fx_table(session)).version)
    table = await packages.replace_fx(session, fx_in=fx_in)
    set_etag(response, table.version)
    return FxRatesOut(base=table.base, rates=packages.rates_of(table), updated_at=table.updated_at)


# -- weekly supply (services/integration/supply.py) ---------------------------------------------

@router.get("/capacity/weekly", response_model=Page[WeeklyCapacity], tags=["capacity"],
            summary="Fresh available slots per provider, specialty and ISO week (staff)",
            description="Active providers of the given specialties (the ones they offer), rows dated `from`..`to` "
                        "(at most 366 days) and confirmed within the staleness window, summed by ISO week. "
                        "A provider with no fresh row in a week has no item for it.")
async def get_weekly_capacity(session: Session, _: RequireStaff, settings: CurrentSettings, paging: Paging,
                              specialty: KnownSpecialties,
                              from_: Annotated[IsoDate, Query(alias="from")], to: IsoDate) -> Page[WeeklyCapacity]:
    items, cursor = await supply.weekly(session, specialties=specialty, from_=from_, to=to,
                                        fresh_since=capacity.fresh_since(settings.stale_after_days), paging=paging)
    return Page[WeeklyCapacity](items=items, next_cursor=cursor)


# -- every provider's capacity at once (a reader copying it, e.g. the coordinator's rebuild) ------

BULK_PAGE = 5000


@router.get("/capacity", response_model=Page[CapacityListed], tags=["capacity"],
            summary="Every stakeholder's capacity rows, by stakeholder, specialty and date (staff; bulk)",
            description="Rows dated `from`..`to` (both optional), each marked stale or fresh, in pages of up to "
                        f"{BULK_PAGE:,} (`limit`, default 1,000; `next_cursor` for the next): a copy of the whole "
                        "register's capacity takes rows / limit calls, not one per provider.")
async def list_all_capacity(session: Session, _: RequireStaff, settings: CurrentSettings, dates: Dates,
                            limit: Annotated[int, Query(ge=1, le=BULK_PAGE)] = 1000,
                            cursor: str | None = None) -> Page[CapacityListed]:
    rows, next_cursor = await capacity.list_all(session, paging=PageParams(limit=limit, cursor=cursor),
                                                from_=dates.from_, to=dates.to,
                                                fresh_since=capacity.fresh_since(settings.stale_after_days))
    return Page[CapacityListed](items=rows, next_cursor=next_cursor)
