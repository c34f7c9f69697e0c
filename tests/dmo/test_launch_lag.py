"""The launch judges readiness on the coordinator's read model, and only on one recent enough:
until the model has applied every event committed before the action was made, the check is
tried again; past the wait, the launch is refused saying how far behind it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pentad.db import Database, write_intent
from services.dmo import launch, readmodel
from services.dmo.models import RmSegment
from services.dmo.steps import Call, NotYet, Pillars, ReadModel


async def _read_model(databases: Any, *, drained_ago: timedelta) -> Database:
    db = Database.connect(await databases.new("dmo"))
    drained_at = datetime.now(UTC) - drained_ago
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            session.add(RmSegment(id="seg_open", name="Open", status="active", specialties=["orthopaedics"],
                                  languages=[], min_accredited_providers=0, min_weekly_capacity=0))
            for feed in ("administration", "integration", "segmentation"):
                await readmodel.move(session, feed=feed, seq=1, drained_at=drained_at)
            await session.commit()
    finally:
        write_intent.reset(token)
    return db


def _call(db: Database, *, wait: float, created_at: datetime) -> Call:
    pillars = Pillars(None, None, None, None, ReadModel(db, 14, wait))  # type: ignore[arg-type]
    return Call(action_id="act_1", step="check_readiness", key="k", input={"campaign_id": "cmp_1"},
                records={"segment_ids": ["seg_open", "seg_unknown"]}, result=None, pillars=pillars,
                created_at=created_at)


async def test_a_read_model_behind_the_action_is_waited_for(databases: Any) -> None:
    db = await _read_model(databases, drained_ago=timedelta(minutes=5))
    try:
        with pytest.raises(NotYet, match="not yet up to"):
            await launch.check_readiness(_call(db, wait=60, created_at=datetime.now(UTC)))
    finally:
        await db.dispose()


async def test_past_the_wait_the_launch_is_refused_with_the_lag(databases: Any) -> None:
    db = await _read_model(databases, drained_ago=timedelta(minutes=5))
    try:
        done = await launch.check_readiness(_call(db, wait=1, created_at=datetime.now(UTC) - timedelta(seconds=2)))
    finally:
        await db.dispose()
    assert done.result["lag_seconds"] >= 300
    assert [(s["segment_id"], s["ready"]) for s in done.result["segments"]] == [
        ("seg_open", False), ("seg_unknown", False)]  # no hotel, no transfer firm; unknown
    assert done.reasons[0] == ("segment seg_open: supporting stakeholders: 0 of 1 hotels and 0 of 1 transfer firms "
                               "(short by 2)")
    assert done.reasons[1] == "segment seg_unknown: the coordinator knows no such segment"
    assert done.reasons[2].startswith("the coordinator's read model is behind: events up to ")
    assert "lag_seconds 3" in done.reasons[2]


async def test_a_current_read_model_is_judged_at_once(databases: Any) -> None:
    # The action was made half an hour before the read model was drained (however long the
    # set-up takes on a loaded machine, the model is current for it).
    asked_at = datetime.now(UTC) - timedelta(minutes=30)
    db = await _read_model(databases, drained_ago=timedelta(0))
    try:
        done = await launch.check_readiness(_call(db, wait=3600, created_at=asked_at))
    finally:
        await db.dispose()
    assert not any("behind" in r for r in done.reasons)
    assert done.records["unready"][0]["shortfalls"] == {"supporting_stakeholders": 2}
