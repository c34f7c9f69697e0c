"""Crashes (issue 9): the coordinator and a pillar SIGKILLed in the middle of each action,
then started again; every action ends succeeded or compensated, with no duplicate record
in any pillar.

Administration, the (fake) Promotion and the coordinator run as processes of their own;
Segmentation, Integration and Development in this process. The coordinator is started with
a test-only pause (``PENTAD_DMO_ACTIONS_STEP_PAUSE_SECONDS``) between a pillar's answer and
its record: it is SIGKILLed inside that window, the worst moment (the pillar has acted, the
coordinator does not know yet), and restarted without it. Its lease is short (2 s), so the
restarted process takes the action up quickly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.dmo.conftest_actions import (
    ActionWorld,
    Process,
    administration_of,
    finished,
    onboarding,
    ready_segment,
    stakeholders_named,
    start,
    unready_segment,
)
from tests.pillars import unique

CLOCK = {"PENTAD_DMO_ACTIONS_POLL_SECONDS": "0.2", "PENTAD_DMO_ACTIONS_LEASE_SECONDS": "2",
         "PENTAD_DMO_ACTIONS_BACKOFF_SECONDS": "0.2", "PENTAD_DMO_ACTIONS_BACKOFF_MAX_SECONDS": "1"}
PAUSED = {"PENTAD_DMO_ACTIONS_STEP_PAUSE_SECONDS": "1.5"}


@dataclass
class Crashable:
    world: ActionWorld
    dmo: Process
    administration: Process
    promotion: Process

    async def all_up(self) -> None:
        for process in (self.administration, self.promotion, self.dmo):
            if process.proc is None or process.proc.poll() is not None:
                await process.start()


@pytest.fixture(scope="module")
async def crashable(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Crashable]:
    from tests.dmo.conftest_actions import start_action_world

    async with AsyncExitStack() as stack:
        world = await start_action_world(stack, databases, tmp_path_factory.mktemp("crash"), config=None,
                                         external=("administration", "promotion"))
        c = Crashable(world, Process(world, "dmo", **CLOCK), Process(world, "administration"),
                      Process(world, "promotion"))
        try:
            yield c
        finally:
            for process in (c.dmo, c.administration, c.promotion):
                process.kill()


async def _until(what: str, check: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within {within}s")


async def _step(dmo: httpx.AsyncClient, action_id: str, name: str) -> dict[str, Any]:
    action = (await dmo.get(f"/actions/{action_id}")).json()
    return dict(next(s for s in action["steps"] if s["name"] == name))


async def test_onboarding_survives_the_coordinator_and_administration_killed(crashable: Crashable) -> None:
    c, world = crashable, crashable.world
    await c.all_up()
    c.dmo.kill()
    await c.dmo.start(**PAUSED)
    body = onboarding()
    name = body["stakeholder"]["name"]
    async with world.client("dmo") as dmo:
        action_id = (await start(dmo, "onboard-provider", body))["id"]
        # Integration registered it; the coordinator is in its pause, not yet recording it.
        await _until("registered", lambda: stakeholders_named(world, name))
        c.dmo.kill()
        c.administration.kill()  # the next step's pillar is down too
        await c.dmo.start()
        # Resumed: registration sent again under its key (Integration answers its first answer),
        # then Administration is waited out.
        await _until("waiting for administration", lambda: _waiting(dmo, action_id, "submit_accreditation"))
        await c.administration.start()
        action = await finished(dmo, action_id)
    assert action["status"] == "succeeded", action
    register = action["steps"][0]
    assert register["status"] == "succeeded" and register["attempts"] == 2  # once before the kill, once after
    (stakeholder,) = await stakeholders_named(world, name)
    held = await administration_of(world, stakeholder["id"])
    assert len(held["accreditations"]) == 1 and len(held["memberships"]) == 1
    assert action["records"] == {"stakeholder_id": stakeholder["id"],
                                 "accreditation_id": held["accreditations"][0]["id"],
                                 "membership_id": held["memberships"][0]["id"]}


async def _waiting(dmo: httpx.AsyncClient, action_id: str, name: str) -> bool:
    try:
        step = await _step(dmo, action_id, name)
    except httpx.TransportError:
        return False
    return bool(step["status"] == "running" and step["error"] and step["error"]["retrying"])


async def test_a_compensation_survives_the_coordinator_killed_while_undoing(crashable: Crashable) -> None:
    c, world = crashable, crashable.world
    await c.all_up()
    c.dmo.kill()
    await c.dmo.start(**PAUSED)
    body = onboarding(scheme_id="sch_missing")
    name = body["stakeholder"]["name"]
    async with world.client("dmo") as dmo:
        action_id = (await start(dmo, "onboard-provider", body))["id"]

        async def deactivated() -> bool:
            found = await stakeholders_named(world, name)
            return bool(found) and found[0]["status"] == "inactive"

        # The accreditation was refused and the undo reached Integration; kill before it is recorded.
        await _until("deactivated", deactivated)
        c.dmo.kill()
        await c.dmo.start()
        action = await finished(dmo, action_id)
    assert action["status"] == "compensated", action
    assert [s["status"] for s in action["steps"]] == ["compensated", "failed", "skipped"]
    (stakeholder,) = await stakeholders_named(world, name)
    assert stakeholder["status"] == "inactive"
    assert await administration_of(world, stakeholder["id"]) == {"accreditations": [], "memberships": []}


async def test_a_launch_survives_the_coordinator_and_promotion_killed(crashable: Crashable) -> None:
    c, world = crashable, crashable.world
    await c.all_up()
    c.dmo.kill()
    await c.dmo.start(**PAUSED)
    campaign = unique("cmp")
    world.promotion.add(campaign, [await ready_segment(world)])
    async with world.client("dmo") as dmo:
        action_id = (await start(dmo, "launch-campaign", {"campaign_id": campaign}))["id"]

        async def activated() -> bool:
            return any(a["campaign_id"] == campaign for a in world.promotion.load()["activations"])

        # Promotion activated it; the coordinator has not recorded it yet. Both die.
        await _until("activated", activated)
        c.dmo.kill()
        c.promotion.kill()
        await c.dmo.start()
        await _until("waiting for promotion", lambda: _waiting(dmo, action_id, "activate_campaign"))
        await c.promotion.start()
        action = await finished(dmo, action_id)
    assert action["status"] == "succeeded", action
    state = world.promotion.load()
    assert [a for a in state["activations"] if a["campaign_id"] == campaign] == [
        {"campaign_id": campaign, "action_id": action_id}]
    key = f"dmo-{action_id}-activate_campaign"
    assert state["keys"].count(key) >= 2  # the same key before and after the crash


async def test_a_refused_launch_opens_each_initiative_once_across_a_kill(crashable: Crashable) -> None:
    c, world = crashable, crashable.world
    await c.all_up()
    c.dmo.kill()
    await c.dmo.start(**PAUSED)
    campaign, segment = unique("cmp"), await unready_segment(world)
    world.promotion.add(campaign, [segment])
    async with world.client("dmo") as dmo, world.client("development") as dev:
        action_id = (await start(dmo, "launch-campaign", {"campaign_id": campaign, "open_initiatives": True}))["id"]

        async def opened() -> list[dict[str, Any]]:
            r = await dev.get("/initiatives", params={"segment_id": segment})
            items: list[dict[str, Any]] = r.json()["items"]
            return items if len(items) == 2 else []

        await _until("initiatives opened", opened)
        c.dmo.kill()
        await c.dmo.start()
        action = await finished(dmo, action_id)
        initiatives = (await dev.get("/initiatives", params={"segment_id": segment})).json()["items"]
    assert action["status"] == "failed" and action["steps"][2]["attempts"] == 2, action
    assert sorted(i["gap"] for i in initiatives) == ["accredited_providers", "weekly_capacity"]
    assert sorted(action["records"]["initiatives"]) == sorted(i["id"] for i in initiatives)
