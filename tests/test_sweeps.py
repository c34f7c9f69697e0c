"""The kit's periodic sweeps: once-only marks, one pass at a time, and the clock that runs them.

The database is Administration's (the first service to carry ``sweep_marks``); the sweeps
here are toys that publish an event per subject they have not marked yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.db import Database
from pentad.service_app import build_service_app
from pentad.settings import Settings
from pentad.sweeps import Sweep, first_time, run_once
from pentad.tables import outbox_events
from tests.support import STAFF, asgi_client, settings_for

DAY = date(2026, 3, 1)


@pytest.fixture
async def db(databases) -> AsyncIterator[Database]:
    database = Database.connect(await databases.new("administration"))
    yield database
    await database.dispose()


def _settings(db: Database, tmp: Path, **overrides: object) -> Settings:
    return settings_for("administration", db.url, tmp, **overrides)


async def _events(db: Database) -> list[str]:
    async with db.sessionmaker() as session:
        return list((await session.scalars(sa.select(outbox_events.c.subject).order_by(outbox_events.c.seq))).all())


def announcing(*subjects: str, gate: asyncio.Event | None = None) -> Sweep:
    async def run(session: AsyncSession, _: Settings) -> int:
        done = 0
        for subject in subjects:
            if await first_time(session, subject=subject, event="thing.due", on=DAY):
                outbox.record(session, type="thing.due", subject=subject, data={})
                done += 1
        if gate is not None:
            await gate.wait()  # hold the pass (and its transaction) open
        return done

    return Sweep("announce", run)


async def test_a_mark_is_taken_once(db: Database) -> None:
    async with db.sessionmaker() as session:
        assert await first_time(session, subject="a", event="thing.due", on=DAY)
        assert not await first_time(session, subject="a", event="thing.due", on=DAY)
        assert await first_time(session, subject="a", event="thing.due", on=date(2026, 3, 2))  # another date
        assert await first_time(session, subject="a", event="thing.gone", on=DAY)              # another event
        await session.commit()
    async with db.sessionmaker() as session:
        assert not await first_time(session, subject="a", event="thing.due", on=DAY)


@pytest.mark.parametrize("first_commits", [True, False])
async def test_a_concurrent_transaction_waits_for_the_first_mark(db: Database, first_commits: bool) -> None:
    """The second transaction gets the mark only if the first one did not commit it."""
    second_engine = Database.connect(db.url)  # as another process would
    try:
        async with db.sessionmaker() as first:
            assert await first_time(first, subject="b", event="thing.due", on=DAY)

            async def contender() -> bool:
                async with second_engine.sessionmaker() as second:
                    taken = await first_time(second, subject="b", event="thing.due", on=DAY)
                    await second.commit()
                    return taken

            task = asyncio.create_task(contender())
            await asyncio.sleep(0.3)
            assert not task.done()  # blocked on the first transaction's mark (or write lock)
            await (first.commit() if first_commits else first.rollback())
        assert await task is not first_commits
    finally:
        await second_engine.dispose()


async def test_passes_run_twice_publish_once(db: Database, tmp: Path) -> None:
    sweep = announcing("x", "y")
    assert await run_once(db, sweep, settings=_settings(db, tmp)) == 2
    assert await run_once(db, sweep, settings=_settings(db, tmp)) == 0
    assert await _events(db) == ["x", "y"]


async def test_a_failed_pass_leaves_neither_marks_nor_events(db: Database, tmp: Path) -> None:
    async def failing(session: AsyncSession, settings: Settings) -> int:
        await announcing("z").run(session, settings)
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        await run_once(db, Sweep("announce", failing), settings=_settings(db, tmp))
    assert await _events(db) == []
    assert await run_once(db, announcing("z"), settings=_settings(db, tmp)) == 1


async def test_a_pass_under_way_elsewhere_is_skipped_or_waited_for(db: Database, tmp: Path) -> None:
    """PostgreSQL: the second process skips (None). SQLite: it waits for the writer, then finds the marks."""
    gate = asyncio.Event()
    other = Database.connect(db.url)
    try:
        first = asyncio.create_task(run_once(db, announcing("p", gate=gate), settings=_settings(db, tmp)))
        await asyncio.sleep(0.3)
        second = asyncio.create_task(run_once(other, announcing("p"), settings=_settings(db, tmp)))
        if db.dialect == "postgresql":
            assert await second is None
            gate.set()
            assert await first == 1
        else:
            await asyncio.sleep(0.3)
            assert not second.done()
            gate.set()
            assert (await first, await second) == (1, 0)
    finally:
        gate.set()
        await other.dispose()
    assert await _events(db) == ["p"]


async def test_a_service_runs_its_sweeps_on_the_clock(db: Database, tmp: Path) -> None:
    calls: list[int] = []

    async def counting(session: AsyncSession, _: Settings) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a failed pass is logged; the next one still runs")
        return 0

    app = build_service_app(_settings(db, tmp, sweep_interval_seconds=0.05), title="t", description="t",
                            routers=[], sweeps=[Sweep("counting", counting)])
    async with asgi_client(app, STAFF):
        for _ in range(200):
            if len(calls) >= 3:
                break
            await asyncio.sleep(0.05)
    assert len(calls) >= 3
    stopped_at = len(calls)
    await asyncio.sleep(0.2)
    assert len(calls) == stopped_at  # stopped with the app


async def test_an_interval_of_zero_leaves_sweeps_to_be_run_by_hand(db: Database, tmp: Path) -> None:
    calls: list[int] = []

    async def counting(session: AsyncSession, _: Settings) -> int:
        calls.append(1)
        return 0

    app = build_service_app(_settings(db, tmp, sweep_interval_seconds=0), title="t", description="t", routers=[],
                            sweeps=[Sweep("counting", counting)])
    async with asgi_client(app, STAFF):
        await asyncio.sleep(0.3)
    assert calls == []
    # A sweep's own interval wins over the setting.
    app = build_service_app(_settings(db, tmp, sweep_interval_seconds=0), title="t", description="t", routers=[],
                            sweeps=[Sweep("counting", counting, every=0.05)])
    async with asgi_client(app, STAFF):
        for _ in range(200):
            if calls:
                break
            await asyncio.sleep(0.05)
    assert calls
