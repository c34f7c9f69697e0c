"""Events the Administration service publishes (through the outbox).

Payloads carry ids, codes and dates only: never a complaint's description or resolution
(free text that may name a patient), never evidence links.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.administration.models import Accreditation, Complaint, Membership, Scheme

# The event a decision publishes, by the state it moves an accreditation to.
# Every type this service publishes (webhooks take subscriptions to these only).
TYPES = frozenset({"accreditation.submitted", "accreditation.verified", "accreditation.suspended",
                   "accreditation.revoked", "accreditation.updated", "accreditation.expiring", "accreditation.expired",
                   "membership.changed", "complaint.opened", "complaint.closed"})

DECIDED = {"valid": "accreditation.verified", "suspended": "accreditation.suspended",
           "revoked": "accreditation.revoked"}


def _accreditation(a: Accreditation, scheme: Scheme, status: str) -> dict[str, Any]:
    return {"accreditation_id": a.id, "stakeholder_id": a.stakeholder_id, "scheme_id": a.scheme_id,
            "scheme_code": scheme.code, "certificate_no": a.certificate_no, "issued_on": a.issued_on.isoformat(),
            "expires_on": a.expires_on.isoformat(), "status": status, "reason": a.reason, "version": a.version}


def accreditation_submitted(session: AsyncSession, a: Accreditation, scheme: Scheme, *, status: str) -> None:
    outbox.record(session, type="accreditation.submitted", subject=a.id, data=_accreditation(a, scheme, status))


def accreditation_decided(session: AsyncSession, a: Accreditation, scheme: Scheme, *, status: str,
                          changed: list[str]) -> None:
    """Verified (or reinstated), suspended or revoked."""
    outbox.record(session, type=DECIDED[a.state], subject=a.id,
                  data={**_accreditation(a, scheme, status), "changed": changed})


def accreditation_updated(session: AsyncSession, a: Accreditation, scheme: Scheme, *, status: str,
                          changed: list[str]) -> None:
    """Evidence or dates corrected, without a decision (a renewal may change the status)."""
    outbox.record(session, type="accreditation.updated", subject=a.id,
                  data={**_accreditation(a, scheme, status), "changed": changed})


def accreditation_dated(session: AsyncSession, a: Accreditation, scheme: Scheme, *, status: str) -> None:
    """``accreditation.expiring`` or ``accreditation.expired``, from the sweep."""
    outbox.record(session, type=f"accreditation.{status}", subject=a.id, data=_accreditation(a, scheme, status))


def membership_changed(session: AsyncSession, m: Membership, *, status: str, change: str,
                       changed: list[str]) -> None:
    """``change``: created, updated, cancelled, or lapsed (from the sweep)."""
    outbox.record(session, type="membership.changed", subject=m.id, data={
        "membership_id": m.id, "stakeholder_id": m.stakeholder_id, "tier": m.tier, "dues": m.dues,
        "period_start": m.period_start.isoformat(), "period_end": m.period_end.isoformat(), "status": status,
        "change": change, "changed": changed, "version": m.version})


def _complaint(c: Complaint) -> dict[str, Any]:
    return {"complaint_id": c.id, "stakeholder_id": c.stakeholder_id, "enquiry_id": c.enquiry_id,
            "category": c.category, "severity": c.severity, "status": c.status, "due_at": c.due_at.isoformat(),
            "filed_by": c.filed_by}


def complaint_opened(session: AsyncSession, c: Complaint) -> None:
    outbox.record(session, type="complaint.opened", subject=c.id, data=_complaint(c))


def complaint_closed(session: AsyncSession, c: Complaint) -> None:
    outbox.record(session, type="complaint.closed", subject=c.id, data=_complaint(c))
