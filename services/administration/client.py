"""Typed client of the Administration service, for the other services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError

M = TypeVar("M", bound=BaseModel)


class AccreditationRef(BaseModel):
    """What other pillars need of an accreditation: whose, which scheme, its status now."""

    id: str
    stakeholder_id: str
    scheme_id: str
    status: str  # pending, valid, expiring, expired, suspended, revoked (computed at read time)
    issued_on: date
    expires_on: date


class ComplaintRef(BaseModel):
    """What the scorecard needs of a complaint: about whom, where it stands against its SLA."""

    id: str
    stakeholder_id: str
    status: str  # open, investigating, resolved, dismissed
    due_at: datetime
    overdue: bool  # unresolved past due_at (computed at read time)
    closed_at: datetime | None
    created_at: datetime


class SchemeRef(BaseModel):
    id: str
    code: str
    name: str


class MembershipRef(BaseModel):
    id: str
    stakeholder_id: str
    tier: str
    status: str  # active, lapsed, cancelled


class AdministrationClient(ServiceClient):
    service = "administration"

    async def accreditations(self, *, status: Sequence[str] = ("valid", "expiring"),
                             stakeholder_id: str | None = None) -> list[AccreditationRef]:
        """Every accreditation in one of ``status`` (default: those that count now), all pages."""
        params: list[tuple[str, Any]] = [("status", s) for s in status]
        if stakeholder_id:
            params.append(("stakeholder_id", stakeholder_id))
        return await self.get_all("/accreditations", AccreditationRef, params)

    async def complaints(self) -> list[ComplaintRef]:
        """Every complaint, all pages (the service calls as staff, so it sees them all)."""
        return await self.get_all("/complaints", ComplaintRef)

    async def schemes(self) -> list[SchemeRef]:
        return await self.get_all("/schemes", SchemeRef)

    async def submit_accreditation(self, evidence: dict[str, Any], *, idempotency_key: str) -> AccreditationRef:
        """Submit accreditation evidence (pending until staff verify it); a retry under the same
        key answers the first submission."""
        response = await self.request("POST", "/accreditations", json=evidence,
                                      headers={"Idempotency-Key": idempotency_key})
        return AccreditationRef.model_validate_json(response.content)

    async def accreditation(self, accreditation_id: str) -> AccreditationRef | None:
        return await self._one(f"/accreditations/{quote(accreditation_id, safe='')}", AccreditationRef)

    async def revoke_accreditation(self, accreditation_id: str, *, reason: str) -> AccreditationRef:
        response = await self.request("PATCH", f"/accreditations/{quote(accreditation_id, safe='')}",
                                      json={"status": "revoked", "reason": reason})
        return AccreditationRef.model_validate_json(response.content)

    async def open_membership(self, membership: dict[str, Any], *, idempotency_key: str) -> MembershipRef:
        response = await self.request("POST", "/memberships", json=membership,
                                      headers={"Idempotency-Key": idempotency_key})
        return MembershipRef.model_validate_json(response.content)

    async def membership(self, membership_id: str) -> MembershipRef | None:
        return await self._one(f"/memberships/{quote(membership_id, safe='')}", MembershipRef)

    async def cancel_membership(self, membership_id: str) -> MembershipRef:
        response = await self.request("PATCH", f"/memberships/{quote(membership_id, safe='')}",
                                      json={"status": "cancelled"})
        return MembershipRef.model_validate_json(response.content)

    async def _one(self, path: str, model: type[M]) -> M | None:
        """The record at ``path``, or None if Administration has no such id."""
        try:
            return await self.get_model(path, model)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return None
            raise
