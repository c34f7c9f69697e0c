"""Typed client of the Integration service, for the other services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from pentad.client import ServiceClient, UpstreamError
from pentad.pagination import Page
from services.integration.schemas import CapacityListed, CapacityRow, Coverage, FxRatesOut, WeeklyCapacity


class StakeholderRef(BaseModel):
    id: str
    kind: str
    name: str
    status: str
    languages: list[str] = []
    specialties: list[str] = []  # the approved ones: only those are listed, counted and accept capacity


class PackagePartRef(BaseModel):
    """A package's component; its description and price (money) ride along for the offer."""

    model_config = ConfigDict(extra="allow")

    kind: str  # treatment, stay, transfer, aftercare
    stakeholder_id: str


class PackageRef(BaseModel):
    """A package as the coordinator shows and counts it: its parts, their prices, its status."""

    id: str
    name: str
    specialty: str
    currency: str
    status: str  # published, withdrawn
    components: list[PackagePartRef]


class CoverageList(BaseModel):
    items: list[Coverage]


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
        return await self.get_all("/stakeholders", StakeholderRef, params)

    async def weekly_capacity(self, specialties: Sequence[str], *, from_: date, to: date) -> list[WeeklyCapacity]:
        """Fresh available slots per active provider, specialty and ISO week, rows dated ``from_``..``to``."""
        params = [*(("specialty", s) for s in specialties), ("from", from_.isoformat()), ("to", to.isoformat())]
        return await self.get_all("/capacity/weekly", WeeklyCapacity, params)

    async def package_exists(self, package_id: str) -> bool:
        """Whether the catalogue has this package (whatever its status)."""
        try:
            await self.request("GET", f"/packages/{quote(package_id, safe='')}")
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return False
            raise
        return True

    async def fx_rates(self) -> FxRatesOut:
        return await self.get_model("/fx-rates", FxRatesOut)

    async def coverage(self, specialties: list[str]) -> list[Coverage]:
        params = [("specialty", s) for s in specialties]
        return (await self.get_model("/coverage", CoverageList, params=params)).items

    async def capacity(self, stakeholder_id: str, *, from_: date, to: date) -> list[CapacityRow]:
        """The stakeholder's capacity rows dated ``from_``..``to`` (every specialty), all pages;
        none when the register has no such stakeholder."""
        params = [("from", from_.isoformat()), ("to", to.isoformat())]
        try:
            return await self.get_all(f"/stakeholders/{quote(stakeholder_id, safe='')}/capacity", CapacityRow, params)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return []
            raise

    async def all_capacity(self, *, from_: date, to: date, page: int = 5000) -> tuple[list[CapacityListed], int]:
        """Every stakeholder's capacity rows dated ``from_``..``to`` (``GET /capacity``, staff), in
        pages of ``page`` rows; and how many calls that took."""
        query: list[tuple[str, Any]] = [("from", from_.isoformat()), ("to", to.isoformat()), ("limit", page)]
        found: list[CapacityListed] = []
        calls = 0
        cursor: str | None = None
        while True:
            calls += 1
            listed = await self.get_model("/capacity", Page[CapacityListed],
                                          params=[*query, *([("cursor", cursor)] if cursor else [])])
            found += listed.items
            if (cursor := listed.next_cursor) is None:
                return found, calls

    async def package(self, package_id: str) -> PackageRef | None:
        """The package (whatever its status), or None if Integration has no such id."""
        try:
            return await self.get_model(f"/packages/{quote(package_id, safe='')}", PackageRef)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return None
            raise

    async def packages(self, *, status: str | None = "published") -> list[PackageRef]:
        """Packages (default: the published ones), every page."""
        return await self.get_all("/packages", PackageRef, [("status", status)] if status else ())

    async def register(self, stakeholder: dict[str, Any], *, idempotency_key: str) -> StakeholderRef:
        """Register a stakeholder (``POST /stakeholders``); a retry under the same key answers
        the first registration and registers nothing new."""
        response = await self.request("POST", "/stakeholders", json=stakeholder,
                                      headers={"Idempotency-Key": idempotency_key})
        return StakeholderRef.model_validate_json(response.content)

    async def set_status(self, stakeholder_id: str, status: str) -> StakeholderRef:
        """Activate or deactivate a stakeholder; setting the status it has changes nothing."""
        response = await self.request("PATCH", f"/stakeholders/{quote(stakeholder_id, safe='')}",
                                      json={"status": status})
        return StakeholderRef.model_validate_json(response.content)
