"""Fixtures of the Development tests: Segmentation, Integration and Development running for
real (uvicorn, in this process), and a fake Administration.

The fake stands in for the Administration service until its branch and this one merge: it
serves only what ``services/administration/client.py`` reads (``GET /accreditations`` with
``status`` repeated, ``stakeholder_id``, ``limit`` and ``cursor``, answering ``{items,
next_cursor}``), behind the kit's identity check like any service. Tests put the
accreditations they need in it.
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

from pentad.http import ASGIApp, RequestContext, VerifyIdentity
from tests.pillars import Pair, service_urls, start_pair, unique
from tests.support import SECRET, STAFF, SignedAs, asgi_client, build, serving, settings_for

PILLARS = ("segmentation", "integration", "development")


@dataclass
class FakeAdministration:
    accreditations: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False  # answer 500, as a broken service would

    def add(self, stakeholder_id: str, status: str = "valid", **changes: Any) -> str:
        accreditation = {"id": unique("acc"), "stakeholder_id": stakeholder_id, "scheme_id": "sch_jci",
                         "status": status, "issued_on": "2025-01-15", "expires_on": "2028-01-15", **changes}
        self.accreditations.append(accreditation)
        return str(accreditation["id"])

    def set_status(self, accreditation_id: str, status: str) -> None:
        next(a for a in self.accreditations if a["id"] == accreditation_id)["status"] = status

    def app(self) -> ASGIApp:
        app = FastAPI()

        @app.get("/accreditations")
        async def accreditations(status: Annotated[list[str] | None, Query()] = None,
                                 stakeholder_id: str | None = None,
                                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                                 cursor: str | None = None) -> dict[str, Any]:
            if self.failing:
                raise HTTPException(500, "broken on purpose")
            rows = [a for a in self.accreditations if (not status or a["status"] in status)
                    and stakeholder_id in (None, a["stakeholder_id"])]
            start = int(cursor or 0)
            more = start + limit < len(rows)
            return {"items": rows[start:start + limit], "next_cursor": str(start + limit) if more else None}

        return RequestContext(VerifyIdentity(app, secret=SECRET.encode(), max_age=300))


@dataclass
class World:
    pair: Pair
    administration: FakeAdministration
    tmp: Path

    def client(self, service: str, caller: Any = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.pair.urls[service], auth=SignedAs(caller), timeout=60)

    def development_with(self, **urls: str) -> Any:
        """A second Development process on the same database, some pillars at other URLs (down)."""
        settings = settings_for("development", self.pair.databases["development"], self.tmp,
                                service_urls={**self.pair.urls, **urls})
        return asgi_client(build("development", settings), STAFF)


async def start_world(stack: AsyncExitStack, databases: Any, tmp: Path) -> World:
    urls = service_urls()
    fake = FakeAdministration()
    await stack.enter_async_context(serving(fake.app(), int(urls["administration"].rsplit(":", 1)[1])))
    return World(await start_pair(stack, databases, tmp, urls, services=PILLARS), fake, tmp)


@pytest.fixture
async def world(databases: Any, tmp: Path) -> AsyncIterator[World]:
    """A destination of this test alone: gaps count the whole register and every active segment."""
    async with AsyncExitStack() as stack:
        yield await start_world(stack, databases, tmp)


@pytest.fixture(scope="module")
async def shared(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        yield await start_world(stack, databases, tmp_path_factory.mktemp("world"))


@pytest.fixture
async def dev(shared: World) -> AsyncIterator[httpx.AsyncClient]:
    async with shared.client("development") as c:
        yield c


@pytest.fixture
async def seg(shared: World) -> AsyncIterator[httpx.AsyncClient]:
    async with shared.client("segmentation") as c:
        yield c
