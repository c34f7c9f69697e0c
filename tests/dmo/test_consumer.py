"""The consumer: rebuilt from the APIs when empty or on demand, durable positions, replicas
applying at once, and the background loop reacting within seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY

from pentad.db import Database
from services.dmo import consumer
from services.dmo.feeds import Pillars
from tests.dmo.conftest import World, start_world
from tests.dmo.helpers import cluster, get, set_accreditation
from tests.pillars import feed
from tests.support import STAFF, free_port, provider


async def heads(world: World) -> dict[str, int]:
    found = {}
    for name in ("segmentation", "integration", "administration"):
        async with world.client(name) as c:
            items = await feed(c)
        found[name] = items[-1]["seq"] if items else 0
    return found


async def test_an_empty_read_model_is_rebuilt_from_the_apis_then_follows_the_feeds(fresh: World) -> None:
    c = await cluster(fresh)  # before the coordinator read anything
    await fresh.catch_up()
    async with fresh.client("dmo") as staff:
        (rebuilt,) = (await get(staff, "/rebuilds"))["items"]
        offer = await get(staff, f"/segments/{c.segment['id']}/offer")
    assert rebuilt["reason"] == "empty" and rebuilt["positions"] == await heads(fresh)
    assert rebuilt["counts"]["capacity_rows"] == 16 and rebuilt["counts"]["accreditations"] == 2
    assert rebuilt["counts"]["capacity_calls"] == 1  # in bulk (GET /integration/capacity), not one a provider
    assert sorted(p["stakeholder_id"] for p in offer["providers"]) == sorted(c.providers)
    assert offer["positions"] == await heads(fresh)
    assert await fresh.catch_up() == 0  # nothing after the heads: nothing applied twice


async def test_positions_survive_a_restart_and_nothing_is_applied_twice(fresh: World) -> None:
    await fresh.catch_up()
    c = await cluster(fresh)
    applied = await fresh.catch_up()  # a new engine each turn: as a restarted process
    assert applied > 0 and await fresh.catch_up() == 0
    async with fresh.client("dmo") as staff:
        ready = await get(staff, "/health/ready")
        found = await get(staff, f"/segments/{c.segment['id']}/readiness")
    assert ready["positions"] == await heads(fresh) and found["ready"] is True


async def test_a_rebuild_on_demand_gives_the_same_offer(world: World) -> None:
    c = await cluster(world)
    await world.catch_up()
    async with world.client("dmo") as staff:
        before = await get(staff, f"/segments/{c.segment['id']}/offer")
        r = await staff.post("/rebuilds")
        assert r.status_code == 201, r.text
        after = await get(staff, f"/segments/{c.segment['id']}/offer")
        listed = (await get(staff, "/rebuilds", limit=500))["items"]
    assert r.json()["reason"] == "requested" and r.json()["requested_by"] == STAFF.key_id
    assert r.json()["id"] in [x["id"] for x in listed]
    assert after["providers"] == before["providers"]


async def test_two_replicas_catching_up_at_once_react_once(world: World) -> None:
    c = await cluster(world, providers=2, threshold=2)
    campaign = world.promotion.add(c.segment["id"])
    await world.catch_up()
    await set_accreditation(world, c.accreditations[c.providers[0]], "suspended")
    await asyncio.gather(world.catch_up(), world.catch_up(), world.catch_up())
    async with world.client("dmo") as staff:
        found = (await get(staff, "/reactions", segment_id=c.segment["id"]))["items"]
    assert [r["kind"] for r in found] == ["segment.not_ready"]
    assert [call[1] for call in world.promotion.calls].count(campaign) == 1


async def test_the_background_consumer_pauses_the_campaign_within_seconds(
        databases: Any, tmp: Path, faults_report: Callable[[str], None]) -> None:
    async with AsyncExitStack() as stack:
        world = await start_world(stack, databases, tmp, dmo_feed_poll_seconds=0.1)
        c = await cluster(world, providers=1, threshold=1, capacity=10)
        campaign = world.promotion.add(c.segment["id"])
        async with world.client("dmo", provider(c.providers[0])) as own:
            for _ in range(200):  # the loop rebuilds, then follows the feeds
                r = await own.get(f"/segments/{c.segment['id']}/readiness")
                if r.status_code == 200 and r.json()["ready"]:
                    break
                await asyncio.sleep(0.05)
            assert r.json()["ready"], r.text
        lag = REGISTRY.get_sample_value("pentad_dmo_read_model_lag_seconds")
        assert lag is not None and 0 <= lag < 60, lag  # the loop publishes how stale the read model may be
        started = time.monotonic()
        await set_accreditation(world, c.accreditations[c.providers[0]], "revoked")
        while world.promotion.campaigns[campaign]["status"] != "paused":
            assert time.monotonic() - started < 5, "the campaign was not paused within 5 s"
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
        faults_report(f"dmo: revocation -> campaign paused in {elapsed * 1000:.0f} ms ({databases.backend})")
        async with world.client("dmo") as staff:
            offer = await get(staff, f"/segments/{c.segment['id']}/offer")
        assert offer["providers"] == []


async def test_a_pillar_down_holds_back_only_its_own_feed(fresh: World) -> None:
    await fresh.catch_up()
    c = await cluster(fresh)
    down = fresh.settings.model_copy(update={"service_urls": {
        **fresh.settings.service_urls, "administration": f"http://127.0.0.1:{free_port()}"}})
    db = Database.connect(down.resolved_database_url())
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            await consumer.turn(db, Pillars.of(http, down), None, recheck=False)
    finally:
        await db.dispose()
    async with fresh.client("dmo") as staff:
        ready = await get(staff, "/health/ready")
        offer = await get(staff, f"/segments/{c.segment['id']}/offer", explain="true")
    now = await heads(fresh)
    assert ready["positions"]["integration"] == now["integration"]
    assert ready["positions"]["administration"] < now["administration"]  # the accreditations are not applied yet
    assert offer["providers"] == [] and len(offer["near_misses"]) == 2
