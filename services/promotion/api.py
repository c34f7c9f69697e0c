"""Routes of the Promotion service (thin: the logic lives in campaigns.py, spend.py, attribution.py;
existence and visibility checks are dependencies).

Who reads campaigns: staff and admin, all of them with budget and spend. Provider and
facilitator keys read the public part of active campaigns (their tracking codes are what an
enquiry carries); drafts, paused and ended campaigns do not exist for them (404).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from pentad.client import client_of
from pentad.codes import CountryCode
from pentad.deps import CurrentCaller, Dates, IfMatch, RequireStaff, Session
from pentad.errors import NotFound
from pentad.etag import check_if_match, set_etag
from pentad.pagination import Page, Paging
from services.integration.client import IntegrationClient
from services.promotion import attribution, campaigns, spend
from services.promotion.models import Campaign
from services.promotion.schemas import (
    ActivationIn,
    AttributionOut,
    CampaignIn,
    CampaignOut,
    CampaignPatch,
    CampaignStatus,
    Id,
    SpendIn,
    SpendOut,
)
from services.segmentation.client import SegmentationClient, SegmentRef

router = APIRouter()
Segmentation = Annotated[SegmentationClient, Depends(client_of(SegmentationClient))]
Integration = Annotated[IntegrationClient, Depends(client_of(IntegrationClient))]

VISIBILITY = ("Staff and admin read every campaign. Provider and facilitator keys read only active "
              "campaigns, and only their public part (budget, spent and status_reason are null), so an "
              "enquiry can carry a campaign's tracking code.")


def _today() -> date:
    return datetime.now(UTC).date()


async def _segments(segmentation: SegmentationClient, segment_ids: list[str]) -> dict[str, SegmentRef | None]:
    found = await asyncio.gather(*(segmentation.segment(s) for s in segment_ids))
    return dict(zip(segment_ids, found, strict=True))


# -- existence and visibility, as dependencies ------------------------------------------------------

async def _visible_campaign(campaign_id: str, session: Session, caller: CurrentCaller) -> Campaign:
    campaign = await campaigns.get_or_raise(session, campaign_id=campaign_id)
    if not caller.is_staff and campaign.status != CampaignStatus.active:
        raise NotFound(f"No campaign {campaign_id!r}.")  # a draft's existence is the DMO's business
    return campaign


async def _changeable_campaign(campaign_id: str, session: Session, _: RequireStaff) -> Campaign:
    """Locked (PostgreSQL) so concurrent changes and spend entries queue on it."""
    return await campaigns.get_or_raise(session, campaign_id=campaign_id, for_update=True)


async def _staff_campaign(campaign_id: str, session: Session, _: RequireStaff) -> Campaign:
    return await campaigns.get_or_raise(session, campaign_id=campaign_id)


async def _campaign_to_activate(campaign_id: str, session: Session, caller: CurrentCaller) -> Campaign:
    campaigns.check_coordinator(caller)  # before the lookup: nobody else learns anything here
    return await campaigns.get_or_raise(session, campaign_id=campaign_id, for_update=True)


VisibleCampaign = Annotated[Campaign, Depends(_visible_campaign)]
ChangeableCampaign = Annotated[Campaign, Depends(_changeable_campaign)]
StaffCampaign = Annotated[Campaign, Depends(_staff_campaign)]
CampaignToActivate = Annotated[Campaign, Depends(_campaign_to_activate)]


async def _present(session: Session, campaign: Campaign, *, full: bool) -> CampaignOut:
    totals = await campaigns.spent(session, [campaign.id]) if full else {}
    return campaigns.present(campaign, spent=totals.get(campaign.id, Decimal(0)), full=full)


# -- campaigns ------------------------------------------------------------------------------------

@router.post("/campaigns", response_model=CampaignOut, status_code=201, tags=["campaigns"],
             summary="Create a draft campaign for named segments and source markets",
             description="At least one segment (known to and served by Segmentation) and one source market: "
                         "a broad-brush campaign is refused (422 saying why). The campaign starts as a draft "
                         "with a generated tracking code; it becomes active only through "
                         "`POST /dmo/actions/launch-campaign`.")
async def create_campaign(campaign_in: CampaignIn, segmentation: Segmentation, session: Session, _: RequireStaff,
                          response: Response) -> CampaignOut:
    campaigns.check_targeted(campaign_in.segment_ids, campaign_in.source_markets)
    # Segmentation is asked before the first statement: SQLite holds its write lock from there.
    campaigns.check_segments(campaign_in.segment_ids, await _segments(segmentation, campaign_in.segment_ids))
    campaign = await campaigns.create(session, campaign_in=campaign_in)
    set_etag(response, campaign.version)
    response.headers["Location"] = f"/campaigns/{campaign.id}"
    return campaigns.present(campaign, spent=Decimal(0), full=True)


@router.get("/campaigns", response_model=Page[CampaignOut], tags=["campaigns"], summary="Campaigns",
            description=VISIBILITY)
async def list_campaigns(session: Session, caller: CurrentCaller, paging: Paging,
                         status: CampaignStatus | None = None, segment_id: Id | None = None,
                         source_market: Annotated[CountryCode | None, Query(
                             description="ISO 3166-1 alpha-2 source market")] = None) -> Page[CampaignOut]:
    if not caller.is_staff:
        if status not in (None, CampaignStatus.active):
            return Page[CampaignOut](items=[], next_cursor=None)
        status = CampaignStatus.active
    rows, cursor = await campaigns.list_(session, paging=paging, status=status, segment_id=segment_id,
                                        source_market=source_market)
    totals = await campaigns.spent(session, [r.id for r in rows]) if caller.is_staff else {}
    items = [campaigns.present(r, spent=totals.get(r.id, Decimal(0)), full=caller.is_staff) for r in rows]
    return Page[CampaignOut](items=items, next_cursor=cursor)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"], summary="One campaign",
            description=VISIBILITY)
async def get_campaign(campaign: VisibleCampaign, caller: CurrentCaller, session: Session,
                       response: Response) -> CampaignOut:
    set_etag(response, campaign.version)
    return await _present(session, campaign, full=caller.is_staff)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"],
              summary="Edit a campaign, pause it (with a reason) or end it (If-Match honoured)",
              description="`active` is refused (409) and named the launch action: "
                          "`POST /dmo/actions/launch-campaign`. `paused` (from active) needs a `status_reason`; "
                          "`ended` is final and an ended campaign is read-only. Once launched, a campaign keeps "
                          "its segments and markets. A change that is already so (a retried pause with the same "
                          "reason) changes nothing: no new version, no event.")
async def update_campaign(patch: CampaignPatch, campaign: ChangeableCampaign, segmentation: Segmentation,
                          session: Session, response: Response, if_match: IfMatch = None) -> CampaignOut:
    check_if_match(if_match, campaign.version)
    segments = await _segments(segmentation, patch.segment_ids) if patch.segment_ids else {}
    campaign = await campaigns.update(session, campaign=campaign, patch=patch, segments=segments)
    set_etag(response, campaign.version)
    return await _present(session, campaign, full=True)


@router.post("/campaigns/{campaign_id}/activation", response_model=CampaignOut, tags=["campaigns"],
             summary="Make a launched campaign active (the coordinator's launch action only)",
             description="Callable only by the coordinator's own identity (`service:dmo`), as the last step of "
                         "`POST /dmo/actions/launch-campaign`; every other caller, admin included, gets a 403 "
                         "naming that action. Draft or paused → active. The same `action_id` again changes "
                         "nothing (200), so a retried step is harmless; an ended campaign is a 409.")
async def activate_campaign(activation: ActivationIn, campaign: CampaignToActivate, session: Session,
                            response: Response) -> CampaignOut:
    campaign = await campaigns.activate(session, campaign=campaign, action_id=activation.action_id, today=_today())
    set_etag(response, campaign.version)
    return await _present(session, campaign, full=True)


# -- spend ----------------------------------------------------------------------------------------

@router.post("/campaigns/{campaign_id}/spend", response_model=SpendOut, status_code=201, tags=["spend"],
             summary="Record spend on a campaign (never silently over its budget)",
             description="In the budget's currency. An entry that takes the ledger past the budget is a 409 "
                         "unless it says `override_budget: true` with an `override_reason`, which stays on the "
                         "entry (`over_budget: true`). Entries are never changed once recorded.")
async def record_spend(spend_in: SpendIn, campaign: ChangeableCampaign, caller: CurrentCaller, session: Session,
                       response: Response) -> SpendOut:
    entry = await spend.record(session, campaign=campaign, spend_in=spend_in, caller=caller)
    response.headers["Location"] = f"/campaigns/{campaign.id}/spend"
    return spend.present(entry)


@router.get("/campaigns/{campaign_id}/spend", response_model=Page[SpendOut], tags=["spend"],
            summary="A campaign's spend ledger, oldest entry first")
async def list_spend(campaign: StaffCampaign, session: Session, paging: Paging) -> Page[SpendOut]:
    rows, cursor = await spend.list_(session, campaign_id=campaign.id, paging=paging)
    return Page[SpendOut](items=[spend.present(r) for r in rows], next_cursor=cursor)


# -- attribution ----------------------------------------------------------------------------------

@router.get("/attribution", response_model=AttributionOut, tags=["attribution"],
            summary="Enquiries, funnel, revenue and spend of a campaign, segment or source market",
            description=attribution.__doc__)
async def get_attribution(session: Session, _: RequireStaff, integration: Integration, dates: Dates,
                          campaign_id: Id | None = None, segment_id: Id | None = None,
                          source_market: Annotated[CountryCode | None, Query(
                              description="ISO 3166-1 alpha-2 source market")] = None) -> AttributionOut:
    fx = await integration.fx_rates()
    scope = attribution.Scope(campaign_id=campaign_id, segment_id=segment_id, source_market=source_market,
                              from_=dates.from_, to=dates.to)
    return await attribution.attribute(session, scope=scope, fx=fx)
