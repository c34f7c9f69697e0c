"""Reactions: an accreditation revoked pauses the campaigns of the segments it kept ready,
opens an initiative and re-routes the provider's enquiries; each once, however often the
event is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pentad.db import Database
from services.dmo import reactions
from services.dmo.models import FeedCursor
from tests.development.helpers import post_capacity, register
from tests.dmo.conftest import World
from tests.dmo.helpers import Cluster, accredit, cluster, get, set_accreditation, weeks_of_slots
from tests.support import STAFF


async def reactions_of(world: World, segment_id: str | None = None, **params: Any) -> list[dict[str, Any]]:
    async with world.client("dmo", STAFF) as staff:
        found = await get(staff, "/reactions", limit=500, **({"segment_id": segment_id} if segment_id else {}),
                          **params)
    return list(found["items"])


async def initiatives_of(world: World, segment_id: str) -> list[dict[str, Any]]:
    async with world.client("development") as dev:
        return list((await get(dev, "/initiatives", segment_id=segment_id))["items"])


async def revoke_the_one_that_counts(world: World) -> tuple[Cluster, str]:
    """A ready segment of threshold 2 with 2 providers and an active campaign; one revoked."""
    c = await cluster(world, providers=2, threshold=2, per_week=15, capacity=20)
    campaign = world.promotion.add(c.segment["id"])
    await world.catch_up()
    await set_accreditation(world, c.accreditations[c.providers[1]], "revoked")
    await world.catch_up()
    return c, campaign


async def test_a_revocation_pauses_the_campaign_opens_an_initiative_and_reroutes(world: World) -> None:
    c, campaign = await revoke_the_one_that_counts(world)
    assert world.promotion.campaigns[campaign]["status"] == "paused"
    assert "1 accredited provider(s)" in world.promotion.campaigns[campaign]["status_reason"]
    assert ("POST", "/routing/retry", {"stakeholder_id": c.providers[1]}) in world.promotion.calls
    (initiative,) = await initiatives_of(world, c.segment["id"])
    assert initiative["gap"] == "accredited_providers"
    done = {r["kind"]: r for r in await reactions_of(world, c.segment["id"])}
    assert done["segment.not_ready"]["outcome"]["campaigns_paused"] == [campaign]
    assert done["segment.not_ready"]["outcome"]["initiative_id"] == initiative["id"]
    assert done["segment.not_ready"]["source"] == "administration" and done["segment.not_ready"]["seq"] > 0
    assert done["segment.not_ready"]["event_type"] == "accreditation.revoked"
    left = [r for r in await reactions_of(world, kind="provider.left_offer") if r["stakeholder_id"] == c.providers[1]]
    assert len(left) == 1 and left[0]["status"] == "done"


async def test_a_redelivered_event_records_and_does_nothing_twice(world: World) -> None:
    c, campaign = await revoke_the_one_that_counts(world)
    before = await reactions_of(world, c.segment["id"])
    db = Database.connect(world.settings.resolved_database_url())
    try:  # the cursor moved back, as after a crash between applying and storing it
        async with db.sessionmaker() as session:
            await session.execute(sa.update(FeedCursor).where(FeedCursor.feed == "administration").values(seq=0))
            await session.commit()
    finally:
        await db.dispose()
    await world.catch_up()
    assert await reactions_of(world, c.segment["id"]) == before
    assert len(await initiatives_of(world, c.segment["id"])) == 1
    reason = world.promotion.campaigns[campaign]["status_reason"]
    assert [call for call in world.promotion.calls if call[1] == campaign] == [
        ("PATCH", campaign, {"status": "paused", "status_reason": reason})]


async def test_when_the_gap_closes_the_paused_campaign_is_flagged_ready_to_resume(world: World) -> None:
    c, campaign = await revoke_the_one_that_counts(world)
    async with world.client("integration") as integ:
        third = await register(integ, "clinic", [c.specialty], languages=["de"])
        await post_capacity(integ, third, c.specialty, weeks_of_slots(15))
    await accredit(world, third)
    await world.catch_up()
    (again,) = [r for r in await reactions_of(world, c.segment["id"]) if r["kind"] == "segment.ready_again"]
    assert again["outcome"]["campaigns_ready_to_resume"] == [campaign]
    assert world.promotion.campaigns[campaign]["status"] == "paused"  # staff resume it through the launch action


async def test_a_retired_segment_ends_its_campaigns(world: World) -> None:
    c = await cluster(world, providers=1, threshold=1, capacity=10)
    campaign = world.promotion.add(c.segment["id"])
    await world.catch_up()
    async with world.client("segmentation") as seg:
        r = await seg.patch(f"/segments/{c.segment['id']}", json={"status": "retired"})
        assert r.status_code == 200, r.text
    await world.catch_up()
    assert world.promotion.campaigns[campaign]["status"] == "ended"
    kinds = [r["kind"] for r in await reactions_of(world, c.segment["id"])]
    assert kinds == ["segment.retired"]


async def test_capacity_going_stale_makes_the_segment_unready_on_the_clock(world: World) -> None:
    c = await cluster(world, providers=2, threshold=2, capacity=20)
    campaign = world.promotion.add(c.segment["id"])
    await world.catch_up()
    db = Database.connect(world.settings.resolved_database_url())
    try:
        async with db.sessionmaker() as session:
            later = datetime.now(UTC) + timedelta(days=world.settings.stale_after_days + 1)
            await reactions.recheck_all(session, settings=world.settings, now=later)
            await session.commit()
    finally:
        await db.dispose()
    await world.catch_up()
    (paused,) = [r for r in await reactions_of(world, c.segment["id"]) if r["kind"] == "segment.not_ready"]
    assert paused["source"] == "clock" and paused["seq"] is None
    assert world.promotion.campaigns[campaign]["status"] == "paused"


async def test_providers_that_gain_the_offer_get_waiting_enquiries_routed_once_per_page(world: World) -> None:
    """Accreditations and capacity arriving for several providers in one page of events: one
    ``provider.joined_offer``, one unscoped ``POST /routing/retry`` (it takes every waiting
    enquiry), not one per provider queued ahead of a pause."""
    await world.catch_up()  # the read model exists: what follows comes through the feeds
    before = len(world.promotion.calls)
    c = await cluster(world, providers=3, threshold=1)
    await world.catch_up()
    joined = [r for r in await reactions_of(world, kind="provider.joined_offer")
              if set(r["outcome"].get("stakeholder_ids", [])) & set(c.providers)]  # the world is shared
    assert len(joined) == 1 and joined[0]["status"] == "done", joined
    assert set(joined[0]["outcome"]["stakeholder_ids"]) == set(c.providers)
    assert [call for call in world.promotion.calls[before:] if call[:2] == ("POST", "/routing/retry")] == [
        ("POST", "/routing/retry", {})]
