"""Typed client of the Integration service, for the other services."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from pentad.client import ServiceClient


class FxTable(BaseModel):
    base: str
    rates: dict[str, Decimal]


class Coverage(BaseModel):
    """How well the destination covers one specialty right now."""

    specialty: str
    providers: int
    providers_with_fresh_capacity: int
    weekly_fresh_slots: int


class CoverageList(BaseModel):
    items: list[Coverage]


class IntegrationClient(ServiceClient):
    service = "integration"

    async def fx_rates(self) -> FxTable:
        return await self.get_model("/fx-rates", FxTable)

    async def coverage(self, specialties: list[str]) -> list[Coverage]:
        params = [("specialty", s) for s in specialties]
        return (await self.get_model("/coverage", CoverageList, params=params)).items
