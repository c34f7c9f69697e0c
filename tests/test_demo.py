"""The demo destination loads once, into an empty destination, and a load cut short is
finished without duplicates, or not at all when that could touch a user's data.

The whole platform (gateway and six services) runs in this process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app as create_gateway
from launcher import demo
from pentad.components import SERVICE_NAMES
from services.dmo import demo as dmo_demo
from services.dmo.demo import ONBOARDED
from services.integration.demo import FX, STAKEHOLDERS
from services.promotion.demo_enquiries import STAGES
from services.segmentation.demo import SEGMENTS
from tests.support import build, free_port, serving, settings_for

WEEK = timedelta(days=7)
FULL = (len(SEGMENTS), len(STAKEHOLDERS) + ONBOARDED, 3)


@dataclass
class Platform:
    url: str
    data: Path

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        key = key or (self.data / "admin.key").read_text().strip()
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture
async def platform(databases: Any, tmp_path: Path) -> AsyncIterator[Platform]:
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
    async with AsyncExitStack() as stack:
        for name in SERVICE_NAMES:
            app = build(name, settings_for(name, await databases.new(name), tmp_path, service_urls=urls))
            await stack.enter_async_context(serving(app, int(urls[name].rsplit(":", 1)[1])))
        gateway = create_gateway(settings_for("gateway", await databases.new("gateway"), tmp_path, service_urls=urls))
        yield Platform(await stack.enter_async_context(serving(gateway)), tmp_path)


async def counts(client: httpx.AsyncClient) -> tuple[int, int, int]:
    async def items(path: str) -> list[dict[str, Any]]:
        r = await client.get(path, params={"limit": 500})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    packages = await items("/integration/packages")
    return (len(await items("/segmentation/segments")), len(await items("/integration/stakeholders")),
            sum(p["status"] == "published" for p in packages))


def cut_after(requests: int) -> tuple[list[tuple[str, demo.Loader]], asyncio.Event]:
    """The pillars' loaders on a client that dies (like the process) once ``requests``
    answers have come back: each of those changes is committed, the rest never sent."""
    seen = 0
    dead = asyncio.Event()

    async def die(_: httpx.Response) -> None:
        nonlocal seen
        seen += 1
        if seen >= requests:
            dead.set()
            await asyncio.Event().wait()  # never returns: the test cancels the load here

    def dying(load: demo.Loader) -> demo.Loader:
        async def run(client: httpx.AsyncClient) -> None:
            client.event_hooks["response"] = [die]
            try:
                await load(client)
            finally:
                client.event_hooks["response"] = []
        return run

    return [(name, dying(load)) for name, load in demo.pillar_loaders()], dead


async def cut_short(platform: Platform, requests: int) -> None:
    loaders, dead = cut_after(requests)
    async with platform.client() as client:
        loading = asyncio.create_task(demo.load_once(client, platform.data, retention=WEEK, loaders=loaders))
        await asyncio.wait_for(dead.wait(), 60)
        loading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loading
    assert demo.read_marker(platform.data / demo.MARKER)["state"] == "loading"


async def test_the_demo_loads_into_an_empty_destination_once(platform: Platform) -> None:
    async with platform.client() as client:
        first = await demo.load_once(client, platform.data, retention=WEEK)
        assert first.loaded and await counts(client) == FULL
        r = await client.put("/integration/fx-rates", json={"base": "EUR", "rates": {**FX["rates"], "GBP": "0.9000"}})
        assert r.status_code == 200, r.text

        again = await demo.load_once(client, platform.data, retention=WEEK)
        assert not again.loaded and again.line.startswith("already loaded on ")
        # Without its marker (another data dir on the same PostgreSQL, say) the data is the user's.
        (platform.data / demo.MARKER).unlink()
        elsewhere = await demo.load_once(client, platform.data, retention=WEEK)
        assert elsewhere == demo.Outcome(False, "not loaded: the destination already has data")
        assert not (platform.data / demo.MARKER).exists()
        assert await counts(client) == FULL
        assert (await client.get("/integration/fx-rates")).json()["rates"]["GBP"] == "0.9000"


async def test_a_load_cut_short_is_finished_without_duplicates_only_when_it_safely_can(platform: Platform) -> None:
    # Cut after Integration's second stakeholder: Segmentation's part, the FX table and the
    # first provider with its capacity are in, the rest is not.
    await cut_short(platform, 9)
    async with platform.client() as client:
        cut = await counts(client)
        assert cut == (len(SEGMENTS), 2, 0)
        # Past the retention window, its replay records may be gone: not finished.
        past = await demo.load_once(client, platform.data, retention=timedelta(minutes=5))
        assert not past.loaded and "older than PENTAD_IDEMPOTENCY_RETENTION_HOURS" in past.line
        r = await client.post("/gateway/keys", json={"name": "another admin", "role": "admin"})
        other_key = r.json()["key"]
    # Another admin key's requests are other requests to the idempotency records: not finished.
    async with platform.client(other_key) as other:
        outcome = await demo.load_once(other, platform.data, retention=WEEK)
        assert not outcome.loaded and "another admin key" in outcome.line
        assert await counts(other) == cut
    async with platform.client() as client:
        outcome = await demo.load_once(client, platform.data, retention=WEEK)
        assert outcome.loaded, outcome
        assert await counts(client) == FULL
    assert demo.read_marker(platform.data / demo.MARKER)["state"] == "loaded"


def failing_in_integration() -> list[tuple[str, demo.Loader]]:
    """Segmentation's part goes in, Integration's fails every time (a service down)."""
    loaders = dict(demo.pillar_loaders())

    async def broken(client: httpx.AsyncClient) -> None:
        raise httpx.ConnectError("integration is down")

    return [("segmentation", loaders["segmentation"]), ("integration", broken)]


@pytest.mark.parametrize("user_writes_meanwhile", [False, True])
async def test_a_failed_load_is_finished_only_if_nobody_wrote_since(platform: Platform,
                                                                    user_writes_meanwhile: bool) -> None:
    async with platform.client() as client:
        failed = await demo.load_once(client, platform.data, retention=WEEK, loaders=failing_in_integration(),
                                      attempts=2)
        assert not failed.loaded and failed.line.startswith("failed part-way after 2 attempts")
        marker = demo.read_marker(platform.data / demo.MARKER)
        assert marker["state"] == "loading" and marker["feeds"]["segmentation"] > 0
        if user_writes_meanwhile:
            r = await client.put("/integration/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.9000"}})
            assert r.status_code == 200, r.text

        outcome = await demo.load_once(client, platform.data, retention=WEEK)
        if user_writes_meanwhile:
            assert not outcome.loaded and "changed since" in outcome.line
            assert await counts(client) == (len(SEGMENTS), 0, 0)
            assert (await client.get("/integration/fx-rates")).json()["rates"] == {"GBP": "0.9000"}
        else:
            assert outcome.loaded and await counts(client) == FULL


def test_the_marker_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / demo.MARKER
    demo.write_marker(path, {"state": "loading", "started_at": "2026-11-28T10:00:00+00:00"})
    demo.write_marker(path, {"state": "loaded", "loaded_at": "2026-11-28T10:01:00+00:00"})
    assert json.loads(path.read_text())["state"] == "loaded"
    assert [p.name for p in tmp_path.iterdir()] == [demo.MARKER]


async def test_the_demo_shows_what_the_coordinator_did(platform: Platform) -> None:
    """One launch that succeeded, one refused with reasons, an onboarding and a reaction to a
    lapsed licence; the enquiries after them; the coordinator's part again duplicates nothing."""
    async with platform.client() as client:
        assert (await demo.load_once(client, platform.data, retention=WEEK)).loaded

        async def items(path: str, **params: Any) -> list[dict[str, Any]]:
            r = await client.get(path, params={"limit": 500, **params})
            assert r.status_code == 200, r.text
            return list(r.json()["items"])

        async def shown() -> tuple[list[tuple[str, str, str]], list[tuple[str, str | None, str]], int]:
            campaigns = {c["id"]: c["name"] for c in await items("/promotion/campaigns")}
            actions = [(a["kind"], a["status"], campaigns.get(a["input"].get("campaign_id"), "-"))
                       for a in await items("/dmo/actions")]
            # The demo's own reaction: the lapse. ``provider.joined_offer`` ones (routing retried as
            # providers' capacity and accreditations arrive) depend on how the feeds were paged.
            reacted = [(r["kind"], r["stakeholder_id"], r["status"]) for r in await items("/dmo/reactions")
                       if r["kind"] != "provider.joined_offer"]
            return actions, reacted, len(await items("/promotion/enquiries"))

        actions, reacted, enquiries = await shown()
        assert actions == [("launch-campaign", "succeeded", dmo_demo.KNEES),
                           ("launch-campaign", "failed", dmo_demo.SMILE),
                           ("onboard-provider", "succeeded", "-")]
        studio = next(s["id"] for s in await items("/integration/stakeholders")
                      if s["name"] == "Adriatic Smile Dental Studio")
        assert reacted == [("provider.left_offer", studio, "done")]
        assert enquiries == len(STAGES)

        refused = (await items("/dmo/actions", status="failed"))[0]
        assert any("accredited providers: 2 of 3 needed" in reason for reason in refused["reasons"]), refused["reasons"]
        status = {c["name"]: c["status"] for c in await items("/promotion/campaigns")}
        assert status == {dmo_demo.KNEES: "active", dmo_demo.SMILE: "draft"}
        clinic = next(s for s in await items("/integration/stakeholders") if s["name"] == dmo_demo.CLINIC["name"])
        held = await items("/administration/accreditations", stakeholder_id=clinic["id"])
        assert [(a["scheme_id"], a["status"]) for a in held] == [("sch_temos", "pending")]
        assert len(await items("/administration/memberships", stakeholder_id=clinic["id"])) == 1

        await dmo_demo.load(client)  # a retry of the part under the same key
        assert await shown() == (actions, reacted, enquiries)
        assert await counts(client) == FULL
