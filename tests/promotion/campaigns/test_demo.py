"""The Promotion demo: two draft campaigns with spend, one for a segment the region can deliver
(the coordinator's demo launches it: tests/test_demo.py), one for a segment short of its
threshold; never a duplicate or an overwrite on a later load."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from pentad.identity import Caller, Role
from services.integration import demo as integration_demo
from services.promotion import demo
from services.segmentation import demo as segmentation_demo
from tests.development.test_demo import Prefixes
from tests.pillars import feed, money
from tests.promotion.campaigns.conftest import World


@asynccontextmanager
async def gateway(world: World, key_id: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=Prefixes(world.pair.urls, Caller(key_id, Role.admin)),
                                 base_url="http://gateway") as client:
        yield client


async def campaigns(pro: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in (await pro.get("/campaigns", params={"limit": 500})).json()["items"]}


async def test_the_demo_has_two_draft_campaigns_with_spend(shared: World, pro: httpx.AsyncClient) -> None:
    async with gateway(shared, "key_admin_demo") as gw:
        await segmentation_demo.load(gw)
        await integration_demo.load(gw)
        await demo.load(gw)
        await demo.load(gw)  # a retry under the same key changes nothing
        segments = {s["name"]: s["id"] for s in (await gw.get("/segmentation/segments")).json()["items"]}

    found = await campaigns(pro)
    assert len(found) == 2
    knees, smile = (next(c for c in found.values() if c["segment_ids"] == [segments[name]])
                    for name in (demo.JOINTS, demo.DENTAL))
    assert (knees["name"], smile["name"]) == (demo.KNEES, demo.SMILE)
    assert (knees["status"], knees["spent"], knees["budget"]) == ("draft", money("26050.00"), money("60000.00"))
    assert (smile["status"], smile["spent"], smile["budget"]) == (
        "draft", money("1800.00", "GBP"), money("25000.00", "GBP"))
    assert not [e for e in await feed(pro) if e["type"] == "campaign.status_changed"]  # only the coordinator launches
    ledger = (await pro.get(f"/campaigns/{knees['id']}/spend")).json()["items"]
    assert [e["channel"] for e in ledger] == ["trade_event", "digital", "fam_trip"]

    # Later, under another key (the replay records long gone): the user's campaigns stay as they are.
    r = await pro.patch(f"/campaigns/{smile['id']}", json={"name": "Our own implant campaign"})
    assert r.status_code == 200, r.text
    async with gateway(shared, "key_admin_much_later") as gw:
        await demo.load(gw)
    after = await campaigns(pro)
    assert len(after) == 2 and "Our own implant campaign" in after
    assert len((await pro.get(f"/campaigns/{knees['id']}/spend")).json()["items"]) == 3

