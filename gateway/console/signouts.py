"""Ended console sessions, in the gateway's database so every replica refuses them at once.

Sign-out records the session's id until its cookie would have expired; every console request
looks its id up (one primary-key read, never cached: a replica must not let a signed-out cookie
back in). Each sign-out also sweeps the records whose cookies have expired since.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.console.session import ConsoleSession
from gateway.models import ConsoleSignout
from pentad.db import Database, write_intent


async def ended(db: Database, session_id: str) -> bool:
    """Whether the session ``session_id`` was signed out."""
    token = write_intent.set(False)  # a plain read, even inside a form's POST: no SQLite write lock
    try:
        async with db.read_sessionmaker() as session:
            return await session.get(ConsoleSignout, session_id) is not None
    finally:
        write_intent.reset(token)


async def end(db: Database, console_session: ConsoleSession, *, now: datetime | None = None) -> None:
    """Ends ``console_session`` for every replica (again is a no-op), and forgets expired ones."""
    now = now or datetime.now(UTC)
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            await session.execute(insert(ConsoleSignout).values(
                session_id=console_session.id, signed_out_at=now,
                expires_at=datetime.fromtimestamp(console_session.expires_at, UTC)).on_conflict_do_nothing())
            await session.execute(sa.delete(ConsoleSignout).where(ConsoleSignout.expires_at <= now))
            await session.commit()
    finally:
        write_intent.reset(token)
