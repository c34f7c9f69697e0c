"""Typed client of the Integration service, for the other services."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError
from services.integration.schemas import Coverage, FxRatesOut


class StakeholderRef(BaseModel):
    id: str
    kind: str
    name: str
    status: str


class CoverageList(BaseModel):
    items: list[Coverage]


class StakeholderPage(BaseModel):
    items: list[StakeholderRef]
    next_cursor: str | None = None


class IntegrationClient(ServiceClient):
    service = "integration"

    async def stakeholder(self, stakeholder_id: str) -> StakeholderRef | None:
        """The stakeholder, or None if the register has no such id."""
        try:
            return await self.get_model(f"/stakeholders/{quote(stakeholder_id, safe='')}", StakeholderRef)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return None
            raise

    async def stakeholders(self, *, status: str | None = None, kind: str | None = None) -> list[StakeholderRef]:
        """Every stakeholder in the register (optionally of one status or kind), all pages."""
        params: list[tuple[str, Any]] = [("limit", 500)]
        params += [(name, value) for name, value in (("status", status), ("kind", kind)) if value]
        found: list[StakeholderRef] = []
        cursor: str | None = None
        while True:
            page = await self.get_model("/stakeholders", StakeholderPage,
                                        params=[*params, ("cursor", cursor)] if cursor else params)
            found += page.items
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def fx_rates(self) -> FxRatesOut:
        return await self.get_model("/fx-rates", FxRatesOut)

    async def coverage(self, specialties: list[str]) -> list[Coverage]:
        params = [("specialty", s) for s in specialties]
        return (await self.get_model("/coverage", CoverageList, params=params)).items
