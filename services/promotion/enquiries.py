"""Enquiries: a prospective patient's request, brought by a facilitator (or staff), followed
through the funnel.

Who sees what: staff every enquiry; a facilitator its own; a provider those routed to it
(not withdrawn from it), without the patient's contact data or the facilitator's id (the
DMO mediates). Nobody else learns that an enquiry exists (404).

The patient's contact data is special-category health data: it lives in one column, is
never logged or put in an event, and is erased on request or ``promotion_contact_retention_days``
after the enquiry closed; the funnel figures stay.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.orm import utcnow
from pentad.pagination import PageParams, paginate
from pentad.settings import Settings
from services.promotion import assignments as assignments_
from services.promotion import enquiry_events as events
from services.promotion import funnel
from services.promotion.enquiry_schemas import (
    AssignmentStatus,
    EnquiryIn,
    EnquiryOut,
    EnquiryPatch,
    QuoteStatus,
)
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.models import Assignment, Campaign, Enquiry, EnquiryTransition, Quote


def actor_of(caller: Caller) -> str:
    return caller.key_id


# -- who may see what ---------------------------------------------------------------------------------

def owns(caller: Caller, enquiry: Enquiry) -> bool:
    return caller.role == Role.facilitator and enquiry.facilitator_id is not None \
        and enquiry.facilitator_id == caller.stakeholder_id


async def ensure_visible(session: AsyncSession, caller: Caller, enquiry: Enquiry) -> None:
    if caller.is_staff or owns(caller, enquiry):
        return
    if caller.role == Role.provider and caller.stakeholder_id and await _routed_to(
            session, enquiry.id, caller.stakeholder_id):
        return
    raise NotFound(f"No enquiry {enquiry.id!r}.")


async def _routed_to(session: AsyncSession, enquiry_id: str, stakeholder_id: str) -> Assignment | None:
    found = await session.get(Assignment, (enquiry_id, stakeholder_id))
    return found if found is not None and found.status != AssignmentStatus.withdrawn.value else None


def ensure_may_change(caller: Caller, enquiry: Enquiry) -> None:
    """Staff and the owning facilitator move the funnel and erase contact data; a provider
    that can read the enquiry may not (403)."""
    if not (caller.is_staff or owns(caller, enquiry)):
        raise Forbidden("Only staff or the facilitator the enquiry belongs to may change it.")


async def get_or_raise(session: AsyncSession, *, enquiry_id: str, for_update: bool = False) -> Enquiry:
    return await orm.get_or_raise(session, Enquiry, enquiry_id, noun="enquiry", for_update=for_update)


async def assignments_of(session: AsyncSession, enquiry_ids: Collection[str]) -> dict[str, list[Assignment]]:
    found: dict[str, list[Assignment]] = {eid: [] for eid in enquiry_ids}
    if enquiry_ids:
        rows = await session.scalars(sa.select(Assignment).where(Assignment.enquiry_id.in_(list(enquiry_ids)))
                                     .order_by(Assignment.routed_at, Assignment.stakeholder_id))
        for a in rows:
            found[a.enquiry_id].append(a)
    return found


def present(enquiry: Enquiry, assignments: Sequence[Assignment], *, caller: Caller) -> EnquiryOut:
    private = caller.is_staff or owns(caller, enquiry)
    now = utcnow()
    if caller.role == Role.provider:
        assignments = [a for a in assignments if a.stakeholder_id == caller.stakeholder_id]
    shown = {k: getattr(enquiry, k) for k in EnquiryOut.model_fields
             if k not in ("assignments", "contact", "consent", "facilitator_id")}
    return EnquiryOut.model_validate({
        **shown, "facilitator_id": enquiry.facilitator_id if caller.role != Role.provider else None,
        "contact": enquiry.contact if private else None, "consent": enquiry.consent if private else None,
        "assignments": [assignments_.present(a, now=now) for a in assignments]})


async def list_(session: AsyncSession, *, caller: Caller, paging: PageParams, statuses: Collection[S] = (),
                campaign_id: str | None = None, segment_id: str | None = None,
                source_market: str | None = None) -> tuple[Sequence[Enquiry], str | None]:
    stmt = sa.select(Enquiry)
    if caller.role == Role.facilitator:
        stmt = stmt.where(Enquiry.facilitator_id == (caller.stakeholder_id or ""))
    elif caller.role == Role.provider:
        stmt = stmt.where(Enquiry.id.in_(sa.select(Assignment.enquiry_id).where(
            Assignment.stakeholder_id == (caller.stakeholder_id or ""),
            Assignment.status != AssignmentStatus.withdrawn.value)))
    for column, value in ((Enquiry.campaign_id, campaign_id), (Enquiry.segment_id, segment_id),
                          (Enquiry.source_market, source_market)):
        if value is not None:
            stmt = stmt.where(column == value)
    if statuses:
        stmt = stmt.where(Enquiry.status.in_([s.value for s in statuses]))
    return await paginate(session, stmt, Enquiry.id, paging)


# -- creating -----------------------------------------------------------------------------------------

def owner_of(caller: Caller, enquiry_in: EnquiryIn) -> str | None:
    """The facilitator the enquiry belongs to: a facilitator key's own stakeholder, or whom staff name."""
    if caller.role == Role.facilitator:
        if enquiry_in.facilitator_id not in (None, caller.stakeholder_id):
            raise Forbidden("A facilitator key files enquiries for its own stakeholder only.")
        return caller.stakeholder_id
    return enquiry_in.facilitator_id


async def campaign_of(session: AsyncSession, *, campaign_id: str | None, tracking_code: str | None
                      ) -> tuple[str | None, str | None]:
    """The campaign an enquiry carries (its id and tracking code), named by either or both
    (then the same one); an unknown one is a 422 naming the field."""
    if campaign_id is None and tracking_code is None:
        return None, None
    field, value = ("campaign_id", campaign_id) if campaign_id is not None else ("tracking_code", tracking_code)
    if campaign_id is not None:
        campaign = await session.get(Campaign, campaign_id)
    else:
        campaign = await session.scalar(sa.select(Campaign).where(Campaign.tracking_code == tracking_code))
    if campaign is None:
        raise Invalid(f"No campaign has this {field}.", errors=[
            FieldError(field=field, message=f"unknown {field.replace('_', ' ')}", value=value)])
    if tracking_code not in (None, campaign.tracking_code):
        raise Invalid("The tracking code is not the campaign's.", errors=[
            FieldError(field="tracking_code", message=f"not the code of campaign {campaign.id}", value=tracking_code)])
    return campaign.id, campaign.tracking_code


async def create(session: AsyncSession, *, actor: Caller, enquiry_in: EnquiryIn, facilitator_id: str | None,
                 segment_id: str | None, segment_matched: bool, campaign: tuple[str | None, str | None]
                 ) -> Enquiry:
    now = utcnow()
    enquiry = Enquiry(
        id=new_id("enq"), facilitator_id=facilitator_id, created_by=actor.key_id, specialty=enquiry_in.specialty,
        source_market=enquiry_in.source_market, segment_id=segment_id, segment_matched=segment_matched,
        campaign_id=campaign[0], tracking_code=campaign[1], preferred_from=enquiry_in.preferred_from,
        preferred_to=enquiry_in.preferred_to, languages=list(enquiry_in.languages), status=S.new.value,
        contact=enquiry_in.contact.model_dump(mode="json", exclude_none=True),
        consent={**enquiry_in.consent.model_dump(mode="json"), "recorded_by": actor.key_id},
        created_at=now)
    session.add(enquiry)
    await session.flush()
    session.add(EnquiryTransition(enquiry_id=enquiry.id, from_status=None, to_status=S.new.value, at=now,
                                  actor=actor_of(actor)))
    events.enquiry_created(session, enquiry)
    return enquiry


# -- the funnel by hand ---------------------------------------------------------------------------------

async def update(session: AsyncSession, *, actor: Caller, enquiry: Enquiry, patch: EnquiryPatch) -> Enquiry:
    target = patch.status
    if target is None or target.value == enquiry.status:
        if patch.booked_quote_id not in (None, enquiry.booked_quote_id):
            raise Conflict("The booked quote is named when the enquiry becomes booked.")
        return enquiry  # the same step again changes nothing
    if target not in funnel.BY_HAND:
        raise Conflict(f"An enquiry becomes {target} through routing, a provider's response or a sent quote, "
                       "not by hand.", errors=[FieldError(field="status", value=target.value,
                                                          message="by hand: booked, treated or lost")])
    funnel.check(enquiry.status, target)
    if target == S.lost and not patch.status_reason:
        raise Invalid("A lost enquiry needs its reason.", errors=[
            FieldError(field="status_reason", message="required when the status becomes lost")])
    if target == S.booked:
        enquiry.booked_quote_id = await _accepted_quote(session, enquiry, patch.booked_quote_id)
    before = enquiry.status
    session.add(funnel.move(enquiry, target, actor=actor_of(actor), at=utcnow(), reason=patch.status_reason))
    await session.flush()
    await events.enquiry_status_changed(session, enquiry, from_=before)
    return enquiry


async def _accepted_quote(session: AsyncSession, enquiry: Enquiry, quote_id: str | None) -> str:
    if quote_id is None:
        raise Invalid("A booking names the accepted quote.", errors=[
            FieldError(field="booked_quote_id", message="required when the status becomes booked")])
    quote = await session.get(Quote, quote_id)
    if quote is None or quote.enquiry_id != enquiry.id:
        raise Invalid("No such quote on this enquiry.", errors=[
            FieldError(field="booked_quote_id", message="not a quote of this enquiry", value=quote_id)])
    if quote.status != QuoteStatus.accepted.value:
        raise Conflict(f"The quote is {quote.status}; a booking names the accepted one.", errors=[
            FieldError(field="booked_quote_id", message="not accepted", value=quote_id)])
    return quote.id


# -- the patient's contact data ---------------------------------------------------------------------

def erase_contact(enquiry: Enquiry, *, at: datetime) -> bool:
    """Erase it (the funnel figures stay); False when it already was."""
    if enquiry.contact is None:
        return False
    enquiry.contact = None
    enquiry.contact_erased_at = at
    return True


async def sweep_contact_retention(session: AsyncSession, settings: Settings) -> int:
    """Erase the contact data of enquiries closed longer than the retention setting."""
    now = utcnow()
    cutoff = now - timedelta(days=settings.promotion_contact_retention_days)
    due = await session.scalars(sa.select(Enquiry).where(
        Enquiry.closed_at < cutoff, Enquiry.contact.is_not(None), Enquiry.contact_erased_at.is_(None))
        .order_by(Enquiry.id).limit(1000).with_for_update(skip_locked=True))
    erased = sum(erase_contact(e, at=now) for e in due.all())
    await session.flush()
    return erased
