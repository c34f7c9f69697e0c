"""Events of enquiries, assignments and quotes (through the outbox).

Payloads carry ids and statuses only: never a patient's contact data, never free text
(reasons may name a person), never amounts a competitor could read off a shared feed.
Each names the enquiry's facilitator and, once routed, its providers: who may read it, so
webhooks (gateway/webhooks) deliver it only to them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.promotion.enquiry_schemas import AssignmentStatus
from services.promotion.models import Assignment, Enquiry, Quote

TYPES = frozenset({"enquiry.created", "enquiry.routed", "enquiry.status_changed", "assignment.breached",
                   "quote.sent", "quote.accepted"})


async def _routed_to(session: AsyncSession, enquiry_id: str) -> list[str]:
    # The providers that may read the enquiry now: one whose assignment was withdrawn gets a 404
    # from the API, so its webhooks must not hear of the enquiry any more either.
    return sorted(await session.scalars(sa.select(Assignment.stakeholder_id).where(
        Assignment.enquiry_id == enquiry_id, Assignment.status != AssignmentStatus.withdrawn.value)))


def enquiry_created(session: AsyncSession, e: Enquiry) -> None:
    outbox.record(session, type="enquiry.created", subject=e.id, data={
        "enquiry_id": e.id, "facilitator_id": e.facilitator_id, "segment_id": e.segment_id,
        "campaign_id": e.campaign_id, "status": e.status})


def enquiry_routed(session: AsyncSession, e: Enquiry, stakeholder_ids: list[str]) -> None:
    """``stakeholder_ids``: the providers this routing added."""
    outbox.record(session, type="enquiry.routed", subject=e.id, data={
        "enquiry_id": e.id, "facilitator_id": e.facilitator_id, "stakeholder_ids": stakeholder_ids,
        "status": e.status})


async def enquiry_status_changed(session: AsyncSession, e: Enquiry, *, from_: str | None) -> None:
    """``stakeholder_ids``: every provider the enquiry is routed to (each may read it)."""
    outbox.record(session, type="enquiry.status_changed", subject=e.id, data={
        "enquiry_id": e.id, "facilitator_id": e.facilitator_id, "stakeholder_ids": await _routed_to(session, e.id),
        "from": from_, "to": e.status, "booked_quote_id": e.booked_quote_id})


async def assignment_breached(session: AsyncSession, a: Assignment) -> None:
    facilitator_id = await session.scalar(sa.select(Enquiry.facilitator_id).where(Enquiry.id == a.enquiry_id))
    outbox.record(session, type="assignment.breached", subject=a.enquiry_id, data={
        "enquiry_id": a.enquiry_id, "facilitator_id": facilitator_id, "stakeholder_id": a.stakeholder_id,
        "status": a.status})


def quote_changed(session: AsyncSession, q: Quote, e: Enquiry) -> None:
    """``quote.sent`` or ``quote.accepted``, by the quote's new status."""
    outbox.record(session, type=f"quote.{q.status}", subject=q.id, data={
        "quote_id": q.id, "enquiry_id": q.enquiry_id, "facilitator_id": e.facilitator_id,
        "stakeholder_id": q.stakeholder_id, "status": q.status})
