"""Typed client of the Segmentation service, for the other services."""

from __future__ import annotations

import time
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError
from pentad.money import Money


class SpecialtyRef(BaseModel):
    code: str
    name: str
    family: str


class ThresholdRef(BaseModel):
    min_accredited_providers: int
    min_weekly_capacity: int


class DemandRef(BaseModel):
    annual_patients: int
    avg_spend: Money
    growth_rate: float


class SegmentRef(BaseModel):
    """What other pillars need of a segment: what it treats, for whom, and its critical threshold."""

    id: str
    name: str
    status: str
    specialties: list[str]
    source_markets: list[str]
    languages: list[str]
    threshold: ThresholdRef
    demand: DemandRef | None = None  # what the scorecard sums; None when the DMO has not estimated it


class AttractivenessRef(BaseModel):
    segment_id: str
    score: float  # 0..1
    complete: bool  # False when some component had no data and counted 0


class SegmentationClient(ServiceClient):
    service = "segmentation"

    async def specialties(self) -> list[SpecialtyRef]:
        """The whole vocabulary, every page of it."""
        return await self.get_all("/specialties", SpecialtyRef)

    async def segment(self, segment_id: str) -> SegmentRef | None:
        """The segment (whatever its status), or None if Segmentation has no such id."""
        try:
            return await self.get_model(f"/segments/{quote(segment_id, safe='')}", SegmentRef)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return None
            raise

    async def segments(self, *, status: str = "active") -> list[SegmentRef]:
        """Every segment in ``status``, every page."""
        return await self.get_all("/segments", SegmentRef, [("status", status)])

    async def matching(self, *, market: str, specialty: str) -> list[SegmentRef]:
        """The active segments serving ``market`` for ``specialty`` (what a facilitator would query)."""
        return await self.get_all("/segments", SegmentRef, [("market", market), ("specialty", specialty)])

    async def attractiveness(self, segment_id: str) -> AttractivenessRef:
        return await self.get_model(f"/segments/{quote(segment_id, safe='')}/attractiveness", AttractivenessRef)


class SpecialtyVocabulary:
    """The specialty codes, fetched from Segmentation and kept for ``ttl`` seconds.

    Built once per process (in the lifespan), so a 10,000-row capacity batch costs at most
    one call to Segmentation, and a new specialty is known everywhere within ``ttl``.
    """

    def __init__(self, *, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._codes: frozenset[str] = frozenset()
        self._until = 0.0

    async def codes(self, client: SegmentationClient, *, refresh: bool = False) -> frozenset[str]:
        if refresh or time.monotonic() >= self._until:
            self._codes = frozenset(s.code for s in await client.specialties())
            self._until = time.monotonic() + self.ttl
        return self._codes
