"""The coordinator's migrations build the tables its models describe (no drift)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pentad.db import create_engine
from services.dmo.models import Base


async def test_migrations_match_the_models(databases: Any) -> None:
    engine = create_engine(await databases.new("dmo"))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await engine.dispose()
    assert diff == []
