"""Typed client of the Administration service, for the other services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from pentad.client import ServiceClient


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
