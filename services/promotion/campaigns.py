"""Campaigns: bound to segments the destination serves and to source markets, never broad-brush.

A campaign is made and edited as a draft by staff; it becomes ``active`` only through the
coordinator's launch action, which checks that the segments' offer is real and then calls
``activate`` as ``service:dmo``. Staff pause (saying why) or end it; an ended campaign is
read-only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.db import dialect_of
from pentad.errors import Conflict, FieldError, Forbidden, Invalid
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.money import Money, Total, format_amount, to_cents
from pentad.pagination import PageParams, paginate
from services.promotion import events
from services.promotion.models import Campaign, SpendEntry
from services.promotion.schemas import CampaignIn, CampaignOut, CampaignPatch, CampaignStatus, Channel
from services.segmentation.client import SegmentRef

S = CampaignStatus
LAUNCH_ACTION = "/dmo/actions/launch-campaign"
COORDINATOR = "service:dmo"  # the only identity that may activate a campaign
# Once launched, a campaign keeps the segments and markets its launch was checked against.
LAUNCHED_FIXED = ("segment_ids", "source_markets")
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed by agents


def new_tracking_code() -> str:
    """``PC-`` and 8 characters: 31**8 (8.5e11) codes, so a clash (refused by the unique
    index, a 409 to retry) is far beyond any destination's campaign count."""
    return "PC-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def stored(value: object) -> Decimal:
    """An amount as the database gives it back (4 places: ``900.0000``) with the places it had."""
    amount = Decimal(str(value))
    cents = to_cents(amount)
    return cents if cents == amount else amount.normalize()


# -- checks -------------------------------------------------------------------------------------

def check_targeted(segment_ids: list[str], source_markets: list[str]) -> None:
    """The pillar's point: promote what the destination can deliver, to a market, per segment."""
    errors = [FieldError(field=field, message=f"at least one is needed: {why}")
              for field, given, why in (
                  ("segment_ids", segment_ids, "a campaign promotes segments the destination serves"),
                  ("source_markets", source_markets, "a campaign speaks to named source markets"))
              if not given]
    if errors:
        raise Invalid("A campaign without a segment and a source market is broad-brush promotion, which "
                      "this destination does not run: name the segments and markets it promotes.", errors=errors)


def check_segments(segment_ids: list[str], found: dict[str, SegmentRef | None]) -> None:
    """Every segment named exists in Segmentation and is served (active)."""
    errors = []
    for i, segment_id in enumerate(segment_ids):
        segment = found.get(segment_id)
        if segment is None or segment.status != "active":
            why = "unknown segment" if segment is None else f"the segment is {segment.status}"
            errors.append(FieldError(field=f"segment_ids.{i}", message=why, value=segment_id))
    if errors:
        raise Invalid("A campaign promotes only segments Segmentation knows and serves.", errors=errors)


def check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise Invalid("The campaign ends before it starts.", errors=[FieldError(
            field="ends_on", message="is before starts_on", value=ends_on.isoformat())])


# -- reads --------------------------------------------------------------------------------------

async def get_or_raise(session: AsyncSession, *, campaign_id: str, for_update: bool = False) -> Campaign:
    return await orm.get_or_raise(session, Campaign, campaign_id, noun="campaign", for_update=for_update)


def names_segment(session: AsyncSession, column: Any, value: str) -> sa.ColumnElement[bool]:
    """``value`` is one of the JSON list in ``column`` (as SQL on either database)."""
    if dialect_of(session) == "postgresql":
        return sa.cast(column, JSONB).contains([value])
    each = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value == value))


async def list_(session: AsyncSession, *, paging: PageParams, status: str | None = None,
                segment_id: str | None = None, source_market: str | None = None
                ) -> tuple[Sequence[Campaign], str | None]:
    stmt = sa.select(Campaign)
    if status:
        stmt = stmt.where(Campaign.status == status)
    if segment_id:
        stmt = stmt.where(names_segment(session, Campaign.segment_ids, segment_id))
    if source_market:
        stmt = stmt.where(names_segment(session, Campaign.source_markets, source_market))
    return await paginate(session, stmt, Campaign.id, paging)


async def spent(session: AsyncSession, campaign_ids: Sequence[str]) -> dict[str, Decimal]:
    """Each campaign's ledger total (in its budget's currency: every entry is in it)."""
    if not campaign_ids:
        return {}
    rows = await session.execute(sa.select(SpendEntry.campaign_id, sa.func.sum(SpendEntry.amount))
                                 .where(SpendEntry.campaign_id.in_(campaign_ids))
                                 .group_by(SpendEntry.campaign_id))
    return {campaign_id: stored(total) for campaign_id, total in rows.all()}


def present(campaign: Campaign, *, spent: Decimal, full: bool) -> CampaignOut:
    """``full``: staff's view; otherwise the public part (no budget, spend or internal reason)."""
    budget = Money.model_validate(campaign.budget)
    return CampaignOut(
        id=campaign.id, name=campaign.name, segment_ids=campaign.segment_ids,
        source_markets=campaign.source_markets, channels=[Channel(c) for c in campaign.channels],
        budget=budget if full else None,
        spent=Total(amount=spent, currency=budget.currency) if full else None,
        starts_on=campaign.starts_on, ends_on=campaign.ends_on, status=S(campaign.status),
        status_reason=campaign.status_reason if full else None, tracking_code=campaign.tracking_code,
        version=campaign.version, created_at=campaign.created_at, updated_at=campaign.updated_at)


# -- writes -------------------------------------------------------------------------------------

async def create(session: AsyncSession, *, campaign_in: CampaignIn) -> Campaign:
    campaign = Campaign(id=new_id("cmp"), status=S.draft.value, status_reason=None,
                        tracking_code=new_tracking_code(), starts_on=campaign_in.starts_on,
                        ends_on=campaign_in.ends_on,
                        **campaign_in.model_dump(mode="json", exclude={"starts_on", "ends_on"}))
    session.add(campaign)
    await session.flush()
    events.campaign_created(session, campaign)
    return campaign


def _check_status_step(campaign: Campaign, target: str, reason: str | None) -> None:
    if target == S.active:
        raise Conflict(f"A campaign becomes active only through the coordinator's launch action, which first "
                       f"checks that its segments' offer is real: POST {LAUNCH_ACTION} "
                       f'{{"campaign_id": "{campaign.id}"}}.')
    if target == S.draft:
        raise Conflict(f"A {campaign.status} campaign does not go back to draft; pause or end it.")
    if target == S.paused and campaign.status != S.active:
        raise Conflict(f"Only an active campaign can be paused; this one is {campaign.status}.")
    if target == S.paused and not reason:
        raise Invalid("Say why the campaign is paused.", errors=[FieldError(
            field="status_reason", message="required when pausing")])


def _check_edit(campaign: Campaign, changes: dict[str, Any], spent: Decimal) -> None:
    if campaign.status != S.draft and (fixed := [f for f in LAUNCHED_FIXED if f in changes]):
        raise Conflict(f"A {campaign.status} campaign keeps the segments and markets its launch was checked "
                       f"against ({', '.join(fixed)}); end it and create another.")
    if "budget" in changes:
        budget = Money.model_validate(changes["budget"])
        current = Money.model_validate(campaign.budget)
        if spent and budget.currency != current.currency:
            raise Conflict(f"The ledger is in {current.currency}; the budget's currency cannot change now.")
        if budget.amount < spent:
            raise Conflict(f"The budget cannot be less than what is already spent "
                           f"({format_amount(spent)} {current.currency}).")


def _unchanged(campaign: Campaign, changes: dict[str, Any]) -> bool:
    """The change is already so (a retried pause, say): nothing to write, no new version."""
    return all(getattr(campaign, field) == value for field, value in changes.items())


async def update(session: AsyncSession, *, campaign: Campaign, patch: CampaignPatch,
                 segments: dict[str, SegmentRef | None]) -> Campaign:
    changes = {f: v for f, v in patch.model_dump(mode="json").items() if f in patch.model_fields_set}
    for field in ("starts_on", "ends_on"):
        if field in changes:
            changes[field] = getattr(patch, field)
    if _unchanged(campaign, changes):
        return campaign  # checked first: a retried end of an ended campaign is harmless too
    if campaign.status == S.ended:
        raise Conflict("The campaign has ended: it is read-only.")
    before = campaign.status
    target = changes.pop("status", before)
    reason = changes.pop("status_reason", campaign.status_reason if target == before else None)
    if target != before:
        _check_status_step(campaign, target, reason)
    _check_edit(campaign, changes, (await spent(session, [campaign.id])).get(campaign.id, Decimal(0)))
    check_targeted(changes.get("segment_ids", campaign.segment_ids),
                   changes.get("source_markets", campaign.source_markets))
    if "segment_ids" in changes:
        check_segments(changes["segment_ids"], segments)
    check_dates(changes.get("starts_on", campaign.starts_on), changes.get("ends_on", campaign.ends_on))
    await orm.update_columns(session, campaign, changes | {"status": target, "status_reason": reason})
    if target != before:
        events.campaign_status_changed(session, campaign, from_=before)
    return campaign


def check_coordinator(caller: Caller) -> None:
    if caller.key_id != COORDINATOR:
        raise Forbidden(f"Only the coordinator activates campaigns, after checking that the segments' offer "
                        f"is real: launch it with POST {LAUNCH_ACTION}.")


async def activate(session: AsyncSession, *, campaign: Campaign, action_id: str, today: date) -> Campaign:
    """Draft or paused → active, for the coordinator's launch action; the same action again
    changes nothing, so a retried step is harmless."""
    if campaign.status == S.active and campaign.activated_by_action == action_id:
        return campaign
    if campaign.status == S.ended:
        raise Conflict("The campaign has ended: it is read-only.")
    if campaign.status == S.active:
        raise Conflict(f"The campaign is already active (launched by action {campaign.activated_by_action}).")
    if campaign.ends_on is not None and campaign.ends_on < today:
        raise Conflict(f"The campaign's last day ({campaign.ends_on.isoformat()}) has passed; change ends_on "
                       "before launching it.")
    before = campaign.status
    campaign.status, campaign.status_reason, campaign.activated_by_action = S.active.value, None, action_id
    await session.flush()
    events.campaign_status_changed(session, campaign, from_=before, action_id=action_id)
    return campaign
