"""Periodic sweeps: work a service does on the clock rather than on a request.

A ``Sweep`` is a function run in a transaction of its own; what it records in the outbox
commits with it, exactly as a request's would. ``build_service_app(sweeps=...)`` runs each
one every ``sweep_interval_seconds`` for the life of the process, and tests call
``run_once`` by hand.

Every replica runs every sweep, so a sweep must act once however many passes overlap:
- ``first_time`` marks a (subject, event, date) in ``sweep_marks`` in the pass's own
  transaction, with ``ON CONFLICT DO NOTHING`` on its primary key. A concurrent pass that
  reaches the same mark waits for the first to commit (PostgreSQL) and then finds it
  taken; a later pass finds it outright. The mark and the event commit together or not at
  all, so a failed pass leaves nothing half done.
- On PostgreSQL a pass also takes a transaction-level advisory try-lock named after the
  sweep, so a replica that finds a pass under way skips its own instead of queueing
  behind it. SQLite has one writer at a time (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.db import Database, dialect_of, try_lock, write_intent
from pentad.http import current_request_id, new_request_id
from pentad.orm import utcnow
from pentad.settings import Settings
from pentad.tables import sweep_marks

log = structlog.get_logger("pentad.sweeps")

# What one pass does, in the session it is given (flush only; the pass commits); returns
# how many things it acted on.
SweepFn = Callable[[AsyncSession, Settings], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Sweep:
    name: str
    run: SweepFn
    every: float | None = None  # seconds; None: the ``sweep_interval_seconds`` setting

    def interval(self, settings: Settings) -> float:
        return self.every if self.every is not None else settings.sweep_interval_seconds


async def first_time(session: AsyncSession, *, subject: str, event: str, on: date) -> bool:
    """Mark (``subject``, ``event``, ``on``) done in this transaction; False if it already was."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    result = await session.execute(insert(sweep_marks).values(
        subject=subject, event=event, on_date=on, marked_at=utcnow()).on_conflict_do_nothing())
    return getattr(result, "rowcount", 0) == 1


async def run_once(db: Database, sweep: Sweep, *, settings: Settings) -> int | None:
    """One pass in its own transaction: how many things it acted on, or None when another
    process's pass held the sweep (PostgreSQL)."""
    intent = write_intent.set(True)
    # A pass is traced like a request: its log lines and audit entries share one id.
    request_id = current_request_id.set(f"sweep-{new_request_id()}")
    try:
        async with db.sessionmaker() as session:
            if not await try_lock(session, f"pentad.sweep:{settings.service}:{sweep.name}"):
                await session.rollback()
                return None
            done = await sweep.run(session, settings)
            await outbox.flush(session, source=settings.service)
            await session.commit()
            return done
    finally:
        current_request_id.reset(request_id)
        write_intent.reset(intent)


async def run_forever(db: Database, sweep: Sweep, *, settings: Settings) -> None:
    """Pass after pass, a first one at start; a failed pass is logged and retried next time."""
    every = sweep.interval(settings)
    while True:
        try:
            done = await run_once(db, sweep, settings=settings)
            if done:
                log.info("sweep.done", sweep=sweep.name, acted_on=done)
        except Exception:
            log.exception("sweep.failed", sweep=sweep.name)
        await asyncio.sleep(every)
