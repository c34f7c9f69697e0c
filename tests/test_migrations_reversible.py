"""Every component's latest migration can be undone and done again (issue 11), on SQLite, on
a PostgreSQL database of its own, and in its schema of one shared PostgreSQL database: the
downgrade runs and the upgrade after it lands at head again, so a release can be rolled back.

A component whose only revision is its first one (0001) is the exception, by design: that
downgrade would drop every table of the component, so it refuses (NotImplementedError) and
changes nothing. Data survival across a specific migration is each service's own test (e.g.
tests/integration/test_stakeholders.py for the proposal columns).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from pentad import migrate
from pentad.components import COMPONENT_NAMES
from tests.conftest import pg_or_skip
from tests.support import PG_ADMIN_URL
from tests.test_e2e_up import _pg


def _revisions(component: str) -> tuple[str, str]:
    """(head, the revision before it, or "base")."""
    script = ScriptDirectory.from_config(migrate.alembic_config(component, "sqlite://"))
    head = script.get_revision("head")
    assert head is not None
    down = head.down_revision
    assert down is None or isinstance(down, str), f"{component}: a merge revision at head"
    return head.revision, down or "base"


async def _version(url: str, schema: str | None) -> str | None:
    engine = create_async_engine(url)
    table = f'"{schema}".alembic_version' if schema else "alembic_version"
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(f"SELECT version_num FROM {table}"))).scalar()
    finally:
        await engine.dispose()


async def _round_trip(component: str, url: str, schema: str | None = None) -> None:
    head, before = _revisions(component)
    await asyncio.to_thread(migrate.upgrade, component, url, schema=schema)
    assert await _version(url, schema) == head
    if before == "base":
        with pytest.raises(NotImplementedError, match="first migration"):
            await asyncio.to_thread(migrate.downgrade, component, url, before, schema=schema)
        assert await _version(url, schema) == head
        return
    await asyncio.to_thread(migrate.downgrade, component, url, before, schema=schema)
    assert await _version(url, schema) == before
    await asyncio.to_thread(migrate.upgrade, component, url, schema=schema)
    assert await _version(url, schema) == head


@pytest.mark.parametrize("component", COMPONENT_NAMES)
async def test_the_latest_migration_is_reversible_on_sqlite(component: str, tmp_path: Path) -> None:
    await _round_trip(component, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")


@pytest.fixture(scope="module")
async def pg_database() -> object:
    await pg_or_skip()
    name = f"pentad_reversible_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_pg, f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(_pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("component", COMPONENT_NAMES)
async def test_the_latest_migration_is_reversible_in_a_shared_postgresql_schema(component: str,
                                                                                pg_database: str) -> None:
    await _round_trip(component, pg_database, schema=component)


async def test_the_latest_migrations_are_reversible_in_postgresql_databases_of_their_own() -> None:
    await pg_or_skip()
    names = {c: f"pentad_reversible_{c}_{uuid.uuid4().hex[:8]}" for c in COMPONENT_NAMES}
    await asyncio.to_thread(_pg, *(f'CREATE DATABASE "{n}"' for n in names.values()))
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0]
    try:
        for component, name in names.items():
            await _round_trip(component, f"{base}/{name}")
    finally:
        await asyncio.to_thread(_pg, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()))
