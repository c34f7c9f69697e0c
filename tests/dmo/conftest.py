"""Fixtures of the coordinator's tests: Segmentation, Integration, Administration and
Development running for real (uvicorn, in this process), a fake Promotion, and the
coordinator itself with its consumer off, so each test moves it on by hand (``World.catch_up``)
and sees exactly what one turn did.

The fake Promotion serves only what ``services/promotion/client.py`` calls for reactions
(``GET /campaigns`` by status and segment, ``PATCH /campaigns/{id}``, ``POST /routing/retry``)
behind the kit's identity check, and records every call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query

from pentad.db import Database
from pentad.http import ASGIApp, RequestContext, VerifyIdentity
from pentad.settings import Settings
from services.dmo import consumer
from services.dmo.feeds import Pillars
from tests.pillars import Pair, service_urls, start_pair, unique
from tests.support import SECRET, STAFF, SignedAs, build, serving, settings_for

PILLARS = ("segmentation", "integration", "administration", "development")


@dataclass
class FakePromotion:
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    failing: bool = False

    def add(self, segment_id: str, status: str = "active") -> str:
        campaign_id = unique("cmp")
        self.campaigns[campaign_id] = {
            "id": campaign_id, "name": campaign_id, "segment_ids": [segment_id], "source_markets": ["DE"],
            "channels": ["search"], "status": status, "status_reason": None, "tracking_code": campaign_id,
            "budget": {"amount": "1000.00", "currency": "EUR"}, "spent": {"amount": "0.00", "currency": "EUR"}}
        return campaign_id

    def app(self) -> ASGIApp:
        app = FastAPI()

        @app.get("/campaigns")
        async def campaigns(status: str | None = None, segment_id: str | None = None,
                            limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
            if self.failing:
                raise HTTPException(500, "broken on purpose")
            rows = [c for c in self.campaigns.values() if status in (None, c["status"])
                    and (segment_id is None or segment_id in c["segment_ids"])]
            return {"items": rows, "next_cursor": None}

        @app.patch("/campaigns/{campaign_id}")
        async def patch(campaign_id: str, body: dict[str, Any]) -> dict[str, Any]:
            self.calls.append(("PATCH", campaign_id, body))
            self.campaigns[campaign_id].update(status=body["status"], status_reason=body["status_reason"])
            return self.campaigns[campaign_id]

        @app.post("/routing/retry")
        async def retry(body: dict[str, Any]) -> dict[str, Any]:
            self.calls.append(("POST", "/routing/retry", body))
            return {"routed": 0, "withdrawn": 1}

        return RequestContext(VerifyIdentity(app, secret=SECRET.encode(), max_age=300))


@dataclass
class World:
    pair: Pair
    promotion: FakePromotion
    tmp: Path
    settings: Settings

    def client(self, service: str, caller: Any = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.pair.urls[service], auth=SignedAs(caller), timeout=60)

    async def catch_up(self, *, recheck: bool = False) -> int:
        """One turn of the coordinator's consumer, as its background loop runs it: events applied."""
        db = Database.connect(self.settings.resolved_database_url())
        try:
            async with httpx.AsyncClient(timeout=60) as http:
                state: Any = {"db": db, "http": http, "settings": self.settings}
                return await consumer.turn(db, Pillars.of(http, self.settings), consumer.hands_of(state),
                                           recheck=recheck)
        finally:
            await db.dispose()


async def start_world(stack: AsyncExitStack, databases: Any, tmp: Path, **dmo: Any) -> World:
    urls = service_urls()
    fake = FakePromotion()
    await stack.enter_async_context(serving(fake.app(), int(urls["promotion"].rsplit(":", 1)[1])))
    pair = await start_pair(stack, databases, tmp, urls, services=PILLARS)
    url = await databases.new("dmo")
    settings = settings_for("dmo", url, tmp, service_urls=urls, **{"dmo_feed_poll_seconds": 0, **dmo})
    await stack.enter_async_context(serving(build("dmo", settings), int(urls["dmo"].rsplit(":", 1)[1])))
    pair.databases["dmo"] = url
    return World(pair, fake, tmp, settings)


@pytest.fixture(scope="module")
async def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        yield await start_world(stack, databases, tmp_path_factory.mktemp("dmo"))


@pytest.fixture
async def fresh(databases: Any, tmp: Path) -> AsyncIterator[World]:
    """A world of this test alone (for what counts the whole destination, or restarts)."""
    async with AsyncExitStack() as stack:
        yield await start_world(stack, databases, tmp)
