"""Events the Integration service publishes (through the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from services.integration.models import FxTableRecord, Package, Stakeholder

# Every type this service publishes (webhooks take subscriptions to these only).
TYPES = frozenset({"stakeholder.registered", "stakeholder.updated", "stakeholder.proposal_submitted",
                   "stakeholder.proposal_withdrawn", "stakeholder.proposal_approved", "stakeholder.proposal_rejected",
                   "capacity.updated", "package.published", "package.withdrawn", "fx_rates.replaced"})


def _stakeholder(s: Stakeholder) -> dict[str, Any]:
    return {"stakeholder_id": s.id, "kind": s.kind, "name": s.name, "country": s.country, "city": s.city,
            "specialties": s.specialties, "status": s.status, "version": s.version}


def stakeholder_registered(session: AsyncSession, stakeholder: Stakeholder) -> None:
    outbox.record(session, type="stakeholder.registered", subject=stakeholder.id, data=_stakeholder(stakeholder))


def stakeholder_updated(session: AsyncSession, stakeholder: Stakeholder, changed: list[str]) -> None:
    outbox.record(session, type="stakeholder.updated", subject=stakeholder.id,
                  data={**_stakeholder(stakeholder), "changed": changed})


def _proposal(s: Stakeholder, specialties: list[str] | None, kind: str | None) -> dict[str, Any]:
    # Ids and codes only: a rejection's reason is free text and stays on the record.
    return {"stakeholder_id": s.id, "proposed_specialties": specialties, "proposed_kind": kind,
            "version": s.version}


def proposal_submitted(session: AsyncSession, stakeholder: Stakeholder) -> None:
    outbox.record(session, type="stakeholder.proposal_submitted", subject=stakeholder.id, data={
        **_proposal(stakeholder, stakeholder.proposed_specialties, stakeholder.proposed_kind),
        "proposed_by": stakeholder.proposed_by})


def proposal_withdrawn(session: AsyncSession, stakeholder: Stakeholder) -> None:
    outbox.record(session, type="stakeholder.proposal_withdrawn", subject=stakeholder.id,
                  data={"stakeholder_id": stakeholder.id, "version": stakeholder.version})


def proposal_decided(session: AsyncSession, stakeholder: Stakeholder, *, outcome: str,
                     specialties: list[str] | None, kind: str | None) -> None:
    """``stakeholder.proposal_approved`` or ``stakeholder.proposal_rejected``."""
    outbox.record(session, type=f"stakeholder.proposal_{outcome}", subject=stakeholder.id,
                  data={**_proposal(stakeholder, specialties, kind),
                        "decided_by": (stakeholder.proposal_decision or {}).get("decided_by")})


def capacity_updated(session: AsyncSession, *, stakeholder_id: str, rows: Sequence[Any], inserted: int,
                     updated: int, rejected: int) -> None:
    """One event a batch: who, which specialties, which dates, how many rows."""
    dates = [r.date for r in rows]
    outbox.record(session, type="capacity.updated", subject=stakeholder_id, data={
        "stakeholder_id": stakeholder_id, "specialties": sorted({r.specialty for r in rows}),
        "from": min(dates).isoformat(), "to": max(dates).isoformat(),
        "inserted": inserted, "updated": updated, "rejected": rejected})


def _package(p: Package) -> dict[str, Any]:
    return {"package_id": p.id, "name": p.name, "specialty": p.specialty, "status": p.status,
            "reason": p.status_reason, "stakeholder_ids": sorted({c["stakeholder_id"] for c in p.components})}


def package_published(session: AsyncSession, package: Package) -> None:
    outbox.record(session, type="package.published", subject=package.id, data=_package(package))


def package_withdrawn(session: AsyncSession, package: Package) -> None:
    outbox.record(session, type="package.withdrawn", subject=package.id, data=_package(package))


def fx_rates_replaced(session: AsyncSession, table: FxTableRecord) -> None:
    outbox.record(session, type="fx_rates.replaced", subject="fx", data={"base": table.base, "rates": table.rates})
