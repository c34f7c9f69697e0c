"""Typed client of the Segmentation service, for the other services."""

from __future__ import annotations

import time
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError


class SpecialtyRef(BaseModel):
    code: str
    name: str
    family: str


class SpecialtyList(BaseModel):
    items: list[SpecialtyRef]
    next_cursor: str | None = None


class ThresholdRef(BaseModel):
    min_accredited_providers: int
    min_weekly_capacity: int


class SegmentRef(BaseModel):
    """What other pillars need of a segment: what it treats, for whom, and its critical threshold."""

    id: str
    name: str
    status: str
    specialties: list[str]
    source_markets: list[str]
    languages: list[str]
    threshold: ThresholdRef


class SegmentList(BaseModel):
    items: list[SegmentRef]
    next_cursor: str | None = None


P = TypeVar("P", SpecialtyList, SegmentList)


class SegmentationClient(ServiceClient):
    service = "segmentation"

    async def specialties(self) -> list[SpecialtyRef]:
        """The whole vocabulary, every page of it."""
        return [s for page in await self._pages("/specialties", SpecialtyList, []) for s in page.items]

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
        return [s for page in await self._pages("/segments", SegmentList, [("status", status)]) for s in page.items]

    async def _pages(self, path: str, model: type[P], params: list[tuple[str, Any]]) -> list[P]:
        pages: list[P] = []
        cursor: str | None = None
        while True:
            pages.append(await self.get_model(path, model, params=[*params, ("limit", 500),
                                                                    *((("cursor", cursor),) if cursor else ())]))
            if (cursor := pages[-1].next_cursor) is None:
                return pages


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
