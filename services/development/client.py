"""Typed client of the Development service, for the other services (the coordinator)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from pentad.client import ServiceClient


class GapRef(BaseModel):
    """A segment's gap as the coordinator needs it: met or not, and by how much."""

    segment_id: str
    met: bool
    threshold: dict[str, Any]
    current: dict[str, Any]
    shortfalls: dict[str, int]


class GapList(BaseModel):
    items: list[GapRef]


class InitiativeRef(BaseModel):
    id: str
    title: str
    segment_id: str
    gap: str
    status: str
    progress: float


class InitiativeList(BaseModel):
    items: list[InitiativeRef]
    next_cursor: str | None = None


class AssessmentPointRef(BaseModel):
    """One segment in one assessment: whether it had crossed its threshold on ``as_of``."""

    assessment_id: str
    as_of: date
    segment_id: str
    met: bool


class DevelopmentClient(ServiceClient):
    service = "development"

    async def gaps(self, *, segment_id: str | None = None) -> list[GapRef]:
        """One segment's gap, or every active segment's (computed now, from the pillars)."""
        params = {"segment_id": segment_id} if segment_id else None
        return (await self.get_model("/gaps", GapList, params=params)).items

    async def initiatives(self, *, segment_id: str | None = None, status: str | None = None) -> list[InitiativeRef]:
        """Initiatives, every page, optionally for one segment or in one status."""
        params: list[tuple[str, Any]] = [(k, v) for k, v in (("segment_id", segment_id), ("status", status)) if v]
        found: list[InitiativeRef] = []
        cursor: str | None = None
        while True:
            page = await self.get_model("/initiatives", InitiativeList,
                                        params=[*params, ("limit", 500), *((("cursor", cursor),) if cursor else ())])
            found += page.items
            if (cursor := page.next_cursor) is None:
                return found

    async def assessment_points(self) -> list[AssessmentPointRef]:
        """Every segment's point of every assessment, oldest first, all pages."""
        return await self.get_all("/assessments", AssessmentPointRef)

    async def create_initiative(self, initiative: dict[str, Any], *, idempotency_key: str) -> InitiativeRef:
        """Open an initiative (``POST /initiatives``); a retry under the same key answers the
        first one and opens nothing new."""
        response = await self.request("POST", "/initiatives", json=initiative,
                                      headers={"Idempotency-Key": idempotency_key})
        return InitiativeRef.model_validate_json(response.content)
