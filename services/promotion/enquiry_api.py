"""Routes of enquiries, their assignments and quotes, routing and provider performance (thin:
the logic lives in enquiries.py, routing.py, assignments.py and quotes.py; existence and
visibility checks are dependencies)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response

from pentad.client import client_of
from pentad.codes import CountryCode, currency_param
from pentad.deps import CurrentCaller, CurrentSettings, IfMatch, Session, require
from pentad.errors import FieldError, Invalid
from pentad.etag import check_if_match, set_etag
from pentad.identity import Caller, Role
from pentad.orm import utcnow
from pentad.pagination import Page, Paging, paginate
from services.administration.client import AdministrationClient
from services.integration.client import IntegrationClient
from services.integration.schemas import FxRatesOut
from services.promotion import assignments, enquiries, quotes, routing
from services.promotion.client import ProviderPerformance, RoutingRetried  # fixed by the coordinator's client
from services.promotion.enquiry_schemas import (
    AssignmentOut,
    AssignmentPatch,
    EnquiryIn,
    EnquiryOut,
    EnquiryPatch,
    EnquiryStatus,
    Id,
    QuoteIn,
    QuoteOut,
    QuotePatch,
    QuoteStatus,
    RoutingRetryIn,
    TransitionOut,
)
from services.promotion.models import Enquiry, EnquiryTransition, Quote
from services.segmentation.client import SegmentationClient

router = APIRouter()
FACILITATOR_KINDS = ("facilitator", "insurer")  # medical travel agents and insurers bring patients
Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]
Administration = Annotated[AdministrationClient, Depends(client_of(AdministrationClient))]
Segmentation = Annotated[SegmentationClient, Depends(client_of(SegmentationClient))]
StaffOrFacilitator = Annotated[Caller, Depends(require(Role.admin, Role.staff, Role.facilitator))]
StaffOrProvider = Annotated[Caller, Depends(require(Role.admin, Role.staff, Role.provider))]
StaffOrCoordinator = Annotated[Caller, Depends(require(Role.admin, Role.staff))]  # the coordinator calls as staff


def _policy(settings: CurrentSettings) -> routing.Policy:
    return routing.Policy(route_to=settings.promotion_route_to, response_hours=settings.promotion_response_hours,
                          now=utcnow())


async def _asker(integration: Integration, administration: Administration) -> routing.Asker:
    return routing.Asker(routing.Pillars(integration, administration), today=datetime.now(UTC).date())


Policy = Annotated[routing.Policy, Depends(_policy)]
Asker = Annotated[routing.Asker, Depends(_asker)]


# -- existence and visibility, as dependencies ------------------------------------------------------

async def _visible(enquiry_id: str, session: Session, caller: CurrentCaller) -> Enquiry:
    enquiry = await enquiries.get_or_raise(session, enquiry_id=enquiry_id)
    await enquiries.ensure_visible(session, caller, enquiry)
    return enquiry


async def _changeable(enquiry_id: str, session: Session, caller: CurrentCaller) -> Enquiry:
    """Locked (PostgreSQL): funnel steps, answers and quotes of one enquiry queue behind each other."""
    enquiry = await enquiries.get_or_raise(session, enquiry_id=enquiry_id, for_update=True)
    await enquiries.ensure_visible(session, caller, enquiry)
    return enquiry


async def _owned(enquiry: Annotated[Enquiry, Depends(_changeable)], caller: CurrentCaller) -> Enquiry:
    enquiries.ensure_may_change(caller, enquiry)
    return enquiry


VisibleEnquiry = Annotated[Enquiry, Depends(_visible)]
ChangeableEnquiry = Annotated[Enquiry, Depends(_changeable)]
OwnedEnquiry = Annotated[Enquiry, Depends(_owned)]


async def _visible_quote(quote_id: str, session: Session, caller: CurrentCaller) -> tuple[Quote, Enquiry]:
    return await quotes.get_visible_or_raise(session, caller=caller, quote_id=quote_id)


async def _changeable_quote(quote_id: str, session: Session, caller: CurrentCaller) -> tuple[Quote, Enquiry]:
    return await quotes.get_visible_or_raise(session, caller=caller, quote_id=quote_id, for_update=True)


VisibleQuote = Annotated[tuple[Quote, Enquiry], Depends(_visible_quote)]
ChangeableQuote = Annotated[tuple[Quote, Enquiry], Depends(_changeable_quote)]
Currency = Annotated[str | None, Query(description="ISO 4217: also give the total converted through Integration's "
                                       "FX table, with the rates used.", max_length=10)]


async def _present(session: Session, enquiry: Enquiry, caller: Caller) -> EnquiryOut:
    found = await enquiries.assignments_of(session, [enquiry.id])
    return enquiries.present(enquiry, found[enquiry.id], caller=caller)


async def _segment(segmentation: SegmentationClient, enquiry_in: EnquiryIn) -> tuple[str | None, bool]:
    """The segment named (422 when Segmentation has no such one), or the first active one that
    serves the market for the specialty (shown as matched)."""
    if enquiry_in.segment_id is not None:
        if await segmentation.segment(enquiry_in.segment_id) is None:
            raise Invalid("Segmentation has no such segment.", errors=[
                FieldError(field="segment_id", message="unknown segment", value=enquiry_in.segment_id)])
        return enquiry_in.segment_id, False
    found = await segmentation.matching(market=enquiry_in.source_market, specialty=enquiry_in.specialty)
    return (found[0].id, True) if found else (None, False)


async def _facilitator(integration: IntegrationClient, caller: Caller, enquiry_in: EnquiryIn) -> str | None:
    owner = enquiries.owner_of(caller, enquiry_in)
    if caller.is_staff and owner is not None:
        known = await integration.stakeholder(owner)
        if known is None or known.kind not in FACILITATOR_KINDS:
            raise Invalid("No such facilitator in the register.", errors=[
                FieldError(field="facilitator_id", message="not a facilitator (agent or insurer)", value=owner)])
    return owner


# -- enquiries --------------------------------------------------------------------------------------

@router.post("/enquiries", response_model=EnquiryOut, status_code=201, tags=["enquiries"],
             summary="File a prospective patient's enquiry (a facilitator for itself, or staff); routed at once",
             description="The patient's consent is required. Without `segment_id` the enquiry is matched to an "
                         "active segment serving the market for the specialty (`segment_matched`). It is routed "
                         "to up to `PENTAD_PROMOTION_ROUTE_TO` providers that can take it now; when none can it "
                         "stays `new` with the reason in `status_reason`.")
async def create_enquiry(enquiry_in: EnquiryIn, session: Session, caller: StaffOrFacilitator,
                         integration: Integration, segmentation: Segmentation, ask: Asker, policy: Policy,
                         response: Response) -> EnquiryOut:
    campaign = await enquiries.campaign_of(session, campaign_id=enquiry_in.campaign_id,
                                           tracking_code=enquiry_in.tracking_code)
    facilitator_id = await _facilitator(integration, caller, enquiry_in)
    segment_id, matched = await _segment(segmentation, enquiry_in)
    enquiry = await enquiries.create(session, actor=caller, enquiry_in=enquiry_in, facilitator_id=facilitator_id,
                                     segment_id=segment_id, segment_matched=matched, campaign=campaign)
    await routing.route(session, enquiry=enquiry, ask=ask, policy=policy)
    await session.flush()
    set_etag(response, enquiry.version)
    response.headers["Location"] = f"/enquiries/{enquiry.id}"
    return await _present(session, enquiry, caller)


@router.get("/enquiries", response_model=Page[EnquiryOut], tags=["enquiries"],
            summary="Enquiries (a facilitator sees its own; a provider those routed to it)")
async def list_enquiries(session: Session, caller: CurrentCaller, paging: Paging,
                         status: Annotated[list[EnquiryStatus], Query()] = [],  # noqa: B006
                         campaign_id: Id | None = None, segment_id: Id | None = None,
                         source_market: CountryCode | None = None) -> Page[EnquiryOut]:
    rows, cursor = await enquiries.list_(session, caller=caller, paging=paging, statuses=status,
                                         campaign_id=campaign_id, segment_id=segment_id, source_market=source_market)
    found = await enquiries.assignments_of(session, [e.id for e in rows])
    return Page[EnquiryOut](items=[enquiries.present(e, found[e.id], caller=caller) for e in rows],
                            next_cursor=cursor)


@router.get("/enquiries/{enquiry_id}", response_model=EnquiryOut, tags=["enquiries"],
            summary="One enquiry, with the providers it was routed to")
async def get_enquiry(enquiry: VisibleEnquiry, session: Session, caller: CurrentCaller,
                      response: Response) -> EnquiryOut:
    set_etag(response, enquiry.version)
    return await _present(session, enquiry, caller)


@router.patch("/enquiries/{enquiry_id}", response_model=EnquiryOut, tags=["enquiries"],
              summary="Take a funnel step by hand: booked (naming the accepted quote), treated, or lost (with "
                      "the reason); staff or the owning facilitator; If-Match honoured")
async def update_enquiry(enquiry: OwnedEnquiry, patch: EnquiryPatch, session: Session, caller: CurrentCaller,
                         response: Response, if_match: IfMatch = None) -> EnquiryOut:
    check_if_match(if_match, enquiry.version)
    enquiry = await enquiries.update(session, actor=caller, enquiry=enquiry, patch=patch)
    set_etag(response, enquiry.version)
    return await _present(session, enquiry, caller)


@router.get("/enquiries/{enquiry_id}/history", response_model=Page[TransitionOut], tags=["enquiries"],
            summary="Every funnel step of the enquiry, timestamped, by whom and why (oldest first)")
async def enquiry_history(enquiry: VisibleEnquiry, session: Session, paging: Paging) -> Page[TransitionOut]:
    rows, cursor = await paginate(session, sa.select(EnquiryTransition).where(
        EnquiryTransition.enquiry_id == enquiry.id), EnquiryTransition.id, paging)
    return Page[TransitionOut](items=[TransitionOut.model_validate(t) for t in rows], next_cursor=cursor)


@router.delete("/enquiries/{enquiry_id}/contact", status_code=204, tags=["enquiries"],
               summary="Erase the patient's contact data (staff, or the owning facilitator)",
               description="The funnel figures stay; `contact` reads back null and `contact_erased_at` says when. "
                           "Erasing again changes nothing.")
async def erase_contact(enquiry: OwnedEnquiry) -> Response:
    enquiries.erase_contact(enquiry, at=utcnow())
    return Response(status_code=204)


# -- assignments --------------------------------------------------------------------------------------

@router.patch("/enquiries/{enquiry_id}/assignments/{stakeholder_id}", response_model=AssignmentOut,
              tags=["enquiries"], summary="The routed provider responds or declines (with a reason); its own key "
                                          "or staff",
              description="A declined place is offered to another provider that can take the enquiry. Staff may "
                          "also move `respond_by`.")
async def answer_assignment(enquiry: ChangeableEnquiry, stakeholder_id: str, patch: AssignmentPatch,
                            session: Session, caller: StaffOrProvider, ask: Asker, policy: Policy) -> AssignmentOut:
    assignment = await assignments.get_own_or_raise(session, caller=caller, enquiry=enquiry,
                                                    stakeholder_id=stakeholder_id)
    if await assignments.answer(session, actor=caller, enquiry=enquiry, assignment=assignment, patch=patch):
        await routing.replace(session, enquiry=enquiry, ask=ask, policy=policy)
    return assignments.present(assignment, now=utcnow())


@router.post("/routing/retry", response_model=RoutingRetried, tags=["routing"],
             summary="Route unrouted enquiries again; withdraw a provider that can no longer take what it holds "
                     "(staff, the coordinator)",
             description="Called when capacity, accreditations or listings change. With `stakeholder_id`, that "
                         "provider's open assignments it can no longer take are withdrawn and replaced where "
                         "another provider can.")
async def retry_routing(retry_in: RoutingRetryIn, session: Session, _: StaffOrCoordinator, ask: Asker,
                        policy: Policy) -> RoutingRetried:
    routed, withdrawn = await routing.retry(session, ask=ask, policy=policy, stakeholder_id=retry_in.stakeholder_id)
    return RoutingRetried(routed=routed, withdrawn=withdrawn)


@router.get("/performance/providers", response_model=Page[ProviderPerformance], tags=["routing"],
            summary="Providers' response performance: median response time and breach rate (a provider sees "
                    "its own)")
async def provider_performance(session: Session, caller: StaffOrProvider, paging: Paging
                               ) -> Page[ProviderPerformance]:
    items, cursor = await assignments.performance(session, caller=caller, paging=paging)
    return Page[ProviderPerformance](items=items, next_cursor=cursor)


# -- quotes -------------------------------------------------------------------------------------------

async def _fx(integration: IntegrationClient, currency: str | None) -> tuple[str | None, FxRatesOut | None]:
    code = currency_param(currency)
    return code, (await integration.fx_rates() if code else None)


@router.post("/enquiries/{enquiry_id}/quotes", response_model=QuoteOut, status_code=201, tags=["quotes"],
             summary="Issue a quote for an enquiry routed to the provider (its own key)",
             description="Items in minor units, all in one currency; `total` is their sum. `status: sent` "
                         "sends it at once.")
async def create_quote(enquiry: ChangeableEnquiry, quote_in: QuoteIn, session: Session, caller: CurrentCaller,
                       integration: Integration, response: Response) -> QuoteOut:
    stakeholder_id = await quotes.ensure_may_quote(session, caller=caller, enquiry=enquiry,
                                                   named=quote_in.stakeholder_id)
    if quote_in.package_id is not None and not await integration.package_exists(quote_in.package_id):
        raise Invalid("Integration has no such package.", errors=[
            FieldError(field="package_id", value=quote_in.package_id, message="unknown package")])
    quote = await quotes.create(session, actor=caller, enquiry=enquiry, stakeholder_id=stakeholder_id,
                                quote_in=quote_in)
    set_etag(response, quote.version)
    response.headers["Location"] = f"/quotes/{quote.id}"
    return quotes.present(quote)


@router.get("/enquiries/{enquiry_id}/quotes", response_model=Page[QuoteOut], tags=["quotes"],
            summary="An enquiry's quotes (a provider its own; the facilitator the sent ones)")
async def list_quotes(enquiry: VisibleEnquiry, session: Session, caller: CurrentCaller, paging: Paging,
                      integration: Integration, currency: Currency = None,
                      status: Annotated[list[QuoteStatus], Query()] = [],  # noqa: B006
                      ) -> Page[QuoteOut]:
    code, fx = await _fx(integration, currency)
    rows, cursor = await quotes.list_(session, caller=caller, enquiry=enquiry, paging=paging, statuses=status)
    return Page[QuoteOut](items=[quotes.present(q, fx=fx, currency=code) for q in rows],
                          next_cursor=cursor)


@router.get("/quotes/{quote_id}", response_model=QuoteOut, tags=["quotes"], summary="One quote")
async def get_quote(found: VisibleQuote, integration: Integration, response: Response,
                    currency: Currency = None) -> QuoteOut:
    code, fx = await _fx(integration, currency)
    set_etag(response, found[0].version)
    return quotes.present(found[0], fx=fx, currency=code)


@router.patch("/quotes/{quote_id}", response_model=QuoteOut, tags=["quotes"],
              summary="The provider edits a draft, sends or withdraws it; the facilitator accepts or rejects a "
                      "sent one; If-Match honoured",
              description="At most one quote of an enquiry is accepted: a second acceptance is a 409, also when "
                          "two race.")
async def update_quote(found: ChangeableQuote, patch: QuotePatch, session: Session, caller: CurrentCaller,
                       integration: Integration, response: Response, if_match: IfMatch = None) -> QuoteOut:
    quote, enquiry = found
    check_if_match(if_match, quote.version)
    if patch.package_id is not None and not await integration.package_exists(patch.package_id):
        raise Invalid("Integration has no such package.", errors=[
            FieldError(field="package_id", value=patch.package_id, message="unknown package")])
    quote = await quotes.update(session, actor=caller, quote=quote, enquiry=enquiry, patch=patch)
    set_etag(response, quote.version)
    return quotes.present(quote)
