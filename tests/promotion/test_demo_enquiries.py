"""The demo's enquiries (``services/promotion/demo_enquiries.py``): forty across the funnel
from two facilitators, quotes in EUR and GBP, one breached assignment; loading again (a load
cut short, finished) adds nothing. The whole platform runs in this process, demo loaded."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from launcher import demo
from services.promotion.demo import KNEES
from services.promotion.demo_enquiries import STAGES, load_enquiries
from tests.test_demo import Platform, platform  # noqa: F401 - the whole platform, as the demo test runs it


async def _all(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    r = await client.get(path, params={"limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_the_demo_enquiries_cover_the_funnel_and_load_once(platform: Platform) -> None:  # noqa: F811
    async with platform.client() as client:
        for _, load in demo.pillar_loaders():  # the coordinator's part loads the enquiries, after its launch
            await load(client)
        first = await _all(client, "/promotion/enquiries")
        knees = next(c for c in await _all(client, "/promotion/campaigns") if c["name"] == KNEES)
        await load_enquiries(client, tracking_code=knees["tracking_code"])  # a load finished again changes nothing
        again = await _all(client, "/promotion/enquiries")
        quotes = [q for e in first for q in await _all(client, f"/promotion/enquiries/{e['id']}/quotes")]
        performance = await _all(client, "/promotion/performance/providers")

    assert again == first and len(first) == 40
    # Every fourth British patient came through the launched campaign.
    assert sum(e["tracking_code"] == knees["tracking_code"] for e in first) == 10
    assert Counter(e["status"] for e in first) == Counter(STAGES)
    assert len({e["facilitator_id"] for e in first}) == 2
    assert all(e["status_reason"] and "speaks sv" in e["status_reason"] for e in first if e["status"] == "new")
    assert {q["total"]["currency"] for q in quotes} == {"EUR", "GBP"}
    assert sum(q["status"] == "accepted" for q in quotes) == 11  # booked and treated: each names its accepted quote
    assert sum(a["breached"] for e in first for a in e["assignments"]) == 1
    assert sum(p["breached"] for p in performance) == 1
