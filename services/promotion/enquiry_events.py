"""Events of enquiries, assignments and quotes (through the outbox).

Payloads carry ids and statuses only: never a patient's contact data, never free text
(reasons may name a person), never amounts a competitor could read off a shared feed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.promotion.models import Assignment, Enquiry, Quote


def enquiry_created(session: AsyncSession, e: Enquiry) -> None:
    outbox.record(session, type="enquiry.created", subject=e.id, data={
        "enquiry_id": e.id, "facilitator_id": e.facilitator_id, "segment_id": e.segment_id,
        "campaign_id": e.campaign_id, "status": e.status})


def enquiry_routed(session: AsyncSession, e: Enquiry, stakeholder_ids: list[str]) -> None:
    outbox.record(session, type="enquiry.routed", subject=e.id, data={
        "enquiry_id": e.id, "stakeholder_ids": stakeholder_ids, "status": e.status})


def enquiry_status_changed(session: AsyncSession, e: Enquiry, *, from_: str | None) -> None:
    outbox.record(session, type="enquiry.status_changed", subject=e.id, data={
        "enquiry_id": e.id, "from": from_, "to": e.status, "booked_quote_id": e.booked_quote_id})


def assignment_breached(session: AsyncSession, a: Assignment) -> None:
    outbox.record(session, type="assignment.breached", subject=a.enquiry_id, data={
        "enquiry_id": a.enquiry_id, "stakeholder_id": a.stakeholder_id, "status": a.status})


def quote_changed(session: AsyncSession, q: Quote) -> None:
    """``quote.sent`` or ``quote.accepted``, by the quote's new status."""
    outbox.record(session, type=f"quote.{q.status}", subject=q.id, data={
        "quote_id": q.id, "enquiry_id": q.enquiry_id, "stakeholder_id": q.stakeholder_id, "status": q.status})
