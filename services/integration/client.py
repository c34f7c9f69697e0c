"""Typed client of the Integration service, for the other services."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError
from services.integration.schemas import Coverage, FxRatesOut


class CoverageList(BaseModel):
    items: list[Coverage]


class StakeholderRef(BaseModel):
    id: str
    kind: str
    name: str
    status: str


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

    async def fx_rates(self) -> FxRatesOut:
        return await self.get_model("/fx-rates", FxRatesOut)

    async def coverage(self, specialties: list[str]) -> list[Coverage]:
        params = [("specialty", s) for s in specialties]
        return (await self.get_model("/coverage", CoverageList, params=params)).items
