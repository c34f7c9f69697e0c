"""Several coordinator replicas on one database: each action is run by one runner at a time
(the lease), and a runner that stops lets another take its actions up."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from pentad.db import Database
from pentad.identity import Caller, Role
from pentad.orm import utcnow
from services.dmo import actions, onboard
from services.dmo.action_schemas import ActionKind
from services.dmo.app import create_app
from services.dmo.models import Action
from services.dmo.runner import claim, due
from tests.dmo.conftest_actions import FAST, finished, onboarding, stakeholders_named, start, start_action_world
from tests.support import STAFF, SignedAs, free_port, serving, settings_for

CALLER = Caller("key_staff", Role.staff)


async def _one_action(db: Database) -> str:
    async with db.sessionmaker() as session:
        action, _ = await actions.create(session, kind=ActionKind.onboard_provider, input={"stakeholder": {
            "name": "x"}, "accreditation": {"scheme_id": "s"}}, plan=onboard.STEPS, caller=CALLER)
        await session.commit()
    return action.id


async def test_one_runner_wins_the_lease_and_a_lapsed_one_is_taken_over(databases: Any) -> None:
    db = Database.connect(await databases.new("dmo"))
    try:
        action_id = await _one_action(db)
        assert await due(db, limit=10) == [action_id]
        won = await asyncio.gather(*(claim(db, action_id=action_id, owner=f"runner-{i}", lease=60)
                                     for i in range(8)))
        assert sorted(won) == [False] * 7 + [True]
        assert await due(db, limit=10) == []  # held
        assert not await claim(db, action_id=action_id, owner="late", lease=60)
        async with db.sessionmaker() as session:  # the holder stopped renewing a minute ago
            await session.execute(sa.update(Action).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
        assert await due(db, limit=10) == [action_id]  # free again
        assert await claim(db, action_id=action_id, owner="late", lease=60)
        async with db.read_sessionmaker() as session:
            action = await actions.get_or_raise(session, action_id=action_id)
        assert action.lease_owner == "late" and action.lease_expires_at is not None
        assert action.lease_expires_at > utcnow()
    finally:
        await db.dispose()


async def test_two_replicas_run_each_action_once(databases: Any, tmp: Any) -> None:
    async with AsyncExitStack() as stack:
        # Leases far longer than a step, even on a loaded machine: a takeover here would be a bug.
        config = FAST.model_copy(update={"lease_seconds": 60.0})
        world = await start_action_world(stack, databases, tmp, config=config)  # replica one
        second = create_app(settings_for("dmo", world.databases["dmo"], tmp, service_urls=world.urls,
                                         sweep_interval_seconds=0), actions=config)
        port = free_port()
        await stack.enter_async_context(serving(second, port))
        bodies = [onboarding() for _ in range(6)]
        async with world.client("dmo") as one, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=SignedAs(STAFF), timeout=60) as two:
            started = [await start(one if i % 2 else two, "onboard-provider", b) for i, b in enumerate(bodies)]
            done = [await finished(one, a["id"]) for a in started]
        assert [a["status"] for a in done] == ["succeeded"] * 6
        # No step ran twice: a second runner never took an action the first was running.
        assert {s["attempts"] for a in done for s in a["steps"]} == {1}
        for body in bodies:
            assert len(await stakeholders_named(world, body["stakeholder"]["name"])) == 1
