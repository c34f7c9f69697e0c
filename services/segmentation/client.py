"""Typed client of the Segmentation service, for the other services."""

from __future__ import annotations

import time

from pydantic import BaseModel

from pentad.client import ServiceClient


class SpecialtyRef(BaseModel):
    code: str
    name: str
    family: str


class SpecialtyList(BaseModel):
    items: list[SpecialtyRef]
    next_cursor: str | None = None


class SegmentationClient(ServiceClient):
    service = "segmentation"

    async def specialties(self) -> list[SpecialtyRef]:
        """The whole vocabulary, every page of it."""
        found: list[SpecialtyRef] = []
        params: dict[str, str | int] = {"limit": 500}
        while True:
            page = await self.get_model("/specialties", SpecialtyList, params=params)
            found += page.items
            if page.next_cursor is None:
                return found
            params["cursor"] = page.next_cursor


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
