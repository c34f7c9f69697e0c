"""The Development demo: initiatives for a segment short of its threshold, three past
assessments showing progress, and never a duplicate or an overwrite on a later load."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import httpx

from pentad.identity import Caller, Role
from services.development import demo
from services.integration import demo as integration_demo
from services.segmentation import demo as segmentation_demo
from tests.development.conftest import World
from tests.development.helpers import today
from tests.support import SignedAs


class Prefixes(httpx.AsyncBaseTransport):
    """What the gateway does for a demo, in a test: ``/<service>/...`` to that service, signed."""

    def __init__(self, urls: dict[str, str], caller: Caller) -> None:
        self.urls = urls
        self.inner = httpx.AsyncClient(auth=SignedAs(caller), timeout=60)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        service, _, rest = request.url.path.lstrip("/").partition("/")
        headers = {k: v for k, v in request.headers.items() if k in ("idempotency-key", "if-match", "content-type")}
        r = await self.inner.request(request.method, f"{self.urls[service]}/{rest}", params=request.url.params,
                                     content=await request.aread(), headers=headers)
        return httpx.Response(r.status_code, headers={"content-type": r.headers.get("content-type", ""),
                                                      **({"etag": r.headers["etag"]} if "etag" in r.headers else {})},
                              content=r.content)

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def gateway(world: World, key_id: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=Prefixes(world.pair.urls, Caller(key_id, Role.admin)),
                                 base_url="http://gateway") as client:
        yield client


def first_of_month(months_ago: int) -> str:
    total = today().year * 12 + today().month - 1 - months_ago
    return date(total // 12, total % 12 + 1, 1).isoformat()


async def test_the_demo_shows_a_segment_short_of_its_threshold_and_its_progress(world: World) -> None:
    async with gateway(world, "key_admin_demo") as gw:
        await segmentation_demo.load(gw)
        await integration_demo.load(gw)
        await demo.load(gw)
        segments = {s["name"]: s for s in (await gw.get("/segmentation/segments")).json()["items"]}
        dental = segments[demo.DENTAL]
        assert "dental_implantology" in dental["specialties"]
        stakeholders = (await gw.get("/integration/stakeholders", params={"limit": 500})).json()["items"]
    for s in stakeholders:  # even with every provider accredited, the segment is short of clinics
        world.administration.add(s["id"], "valid")

    async with world.client("development") as dev:
        gap = (await dev.get("/gaps", params={"segment_id": dental["id"]})).json()["items"][0]
        assert gap["shortfalls"]["accredited_providers"] == 1 and gap["met"] is False
        initiatives = (await dev.get("/initiatives")).json()["items"]
        assert [(i["segment_id"], i["gap"], i["status"]) for i in initiatives] == [
            (dental["id"], "accredited_providers", "in_progress"), (dental["id"], "weekly_capacity", "approved")]
        assert initiatives[0]["overdue_milestones"] == 1 and 0 < initiatives[0]["progress"] < 1
        points = (await dev.get("/assessments", params={"segment_id": dental["id"]})).json()["items"]
        assert [(p["as_of"], p["source"]) for p in points] == [(first_of_month(m), "recorded") for m in (3, 2, 1)]
        assert [p["shortfalls"] for p in points] == [
            {"accredited_providers": 2, "weekly_capacity": 38, "languages": 0, "supporting_stakeholders": 1},
            {"accredited_providers": 2, "weekly_capacity": 29, "languages": 0, "supporting_stakeholders": 0},
            {"accredited_providers": 1, "weekly_capacity": 22, "languages": 0, "supporting_stakeholders": 0}]
        everything = (await dev.get("/assessments", params={"limit": 500})).json()["items"]
        assert len(everything) == 3 * len(segmentation_demo.SEGMENTS)


async def test_loading_the_demo_again_never_duplicates_or_overwrites(world: World) -> None:
    async with gateway(world, "key_admin_first") as gw:
        await segmentation_demo.load(gw)
        await demo.load(gw)
        await demo.load(gw)  # a retry under the same key: replays
    async with world.client("development") as dev:
        initiatives = (await dev.get("/initiatives")).json()["items"]
        assert len(initiatives) == 2
        assert len((await dev.get("/assessments", params={"limit": 500})).json()["items"]) == 15
        r = await dev.patch(f"/initiatives/{initiatives[1]['id']}", json={"title": "Our own plan now"})
        assert r.status_code == 200
        gone = (await dev.get("/assessments")).json()["items"][0]["assessment_id"]

    # Long after: the replay records are gone (another key is the same as an expired one).
    async with gateway(world, "key_admin_much_later") as gw:
        await demo.load(gw)
    async with world.client("development") as dev:
        after = (await dev.get("/initiatives")).json()["items"]
        assert [i["id"] for i in after] == [i["id"] for i in initiatives]
        assert after[1]["title"] == "Our own plan now"
        points = (await dev.get("/assessments", params={"limit": 500})).json()["items"]
        assert len(points) == 15 and points[0]["assessment_id"] == gone
