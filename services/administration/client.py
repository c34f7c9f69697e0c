"""Typed client of the Administration service, for the other services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
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


class AccreditationList(BaseModel):
    items: list[AccreditationRef]
    next_cursor: str | None = None


class AdministrationClient(ServiceClient):
    service = "administration"

    async def accreditations(self, *, status: Sequence[str] = ("valid", "expiring"),
                             stakeholder_id: str | None = None) -> list[AccreditationRef]:
        """Every accreditation in one of ``status`` (default: those that count now), all pages."""
        found: list[AccreditationRef] = []
        params: list[tuple[str, Any]] = [("limit", 500), *(("status", s) for s in status)]
        if stakeholder_id:
            params.append(("stakeholder_id", stakeholder_id))
        cursor: str | None = None
        while True:
            page = await self.get_model("/accreditations", AccreditationList,
                                        params=[*params, ("cursor", cursor)] if cursor else params)
            found += page.items
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor
