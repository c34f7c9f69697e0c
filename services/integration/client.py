"""Typed client of the Integration service, for the other services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError
from services.integration.schemas import Coverage, FxRatesOut, WeeklyCapacity


class CoverageList(BaseModel):
    items: list[Coverage]


class StakeholderRef(BaseModel):
    id: str
    kind: str
    name: str
    status: str
    languages: list[str] = []
    specialties: list[str] = []  # the approved ones: only those are listed, counted and accept capacity


class StakeholderList(BaseModel):
    items: list[StakeholderRef]
    next_cursor: str | None = None


class WeeklyCapacityList(BaseModel):
    items: list[WeeklyCapacity]
    next_cursor: str | None = None


P = TypeVar("P", StakeholderList, WeeklyCapacityList)


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

    async def stakeholders(self, *, status: str | None = "active", kind: str | None = None) -> list[StakeholderRef]:
        """The register (default: its active part), every page of it."""
        params = [(name, value) for name, value in (("status", status), ("kind", kind)) if value]
        return [s for page in await self._pages("/stakeholders", StakeholderList, params) for s in page.items]

    async def weekly_capacity(self, specialties: Sequence[str], *, from_: date, to: date) -> list[WeeklyCapacity]:
        """Fresh available slots per active provider, specialty and ISO week, rows dated ``from_``..``to``."""
        params = [*(("specialty", s) for s in specialties), ("from", from_.isoformat()), ("to", to.isoformat())]
        return [w for page in await self._pages("/capacity/weekly", WeeklyCapacityList, params) for w in page.items]

    async def fx_rates(self) -> FxRatesOut:
        return await self.get_model("/fx-rates", FxRatesOut)

    async def coverage(self, specialties: list[str]) -> list[Coverage]:
        params = [("specialty", s) for s in specialties]
        return (await self.get_model("/coverage", CoverageList, params=params)).items

    async def _pages(self, path: str, model: type[P], params: list[tuple[str, Any]]) -> list[P]:
        pages: list[P] = []
        cursor: str | None = None
        while True:
            pages.append(await self.get_model(path, model, params=[*params, ("limit", 500),
                                                                    *((("cursor", cursor),) if cursor else ())]))
            if (cursor := pages[-1].next_cursor) is None:
                return pages
