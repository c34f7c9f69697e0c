"""Administration's migrations build exactly the schema its models describe, and the seeded schemes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pentad.db import Database
from services.administration.models import Base


def _differences(conn: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(databases) -> None:
    db = Database.connect(await databases.new("administration"))
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            codes = (await conn.execute(sa.text("SELECT code FROM schemes ORDER BY code"))).scalars().all()
    finally:
        await db.dispose()
    assert codes == ["gha", "iso_22525", "jci", "national_licence", "temos"]
