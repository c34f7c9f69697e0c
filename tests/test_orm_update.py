"""``pentad.orm.update_columns``: a row's columns changed by one Core UPDATE, as the ORM's
flush would change them (only what differs, version bumped and checked, ``updated_at`` set),
on SQLite and PostgreSQL; anything but plain columns still goes through the flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from pentad import orm
from pentad.db import Database
from services.segmentation.models import Segment, SegmentTag
from tests.support import DatabaseFactory

OLD = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    database = Database.connect(await databases.new("segmentation"))
    async with database.sessionmaker() as session, session.begin():
        session.add(Segment(id="seg_1", name="Knees", family="medical", status="active", specialties=["orthopaedics"],
                            source_markets=["GB"], payer_types=["self_pay"], motivation="cost", price_band=None,
                            languages=["en"], demand=None, threshold={"min_providers": 1}, version=1,
                            created_at=OLD, updated_at=OLD))
    yield database
    await database.dispose()


async def _row(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        table = Segment.__table__
        return dict((await conn.execute(sa.select(table).where(table.c.id == "seg_1"))).mappings().one())


async def test_changed_columns_are_written_with_a_new_version_and_the_object_holds_them(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment", for_update=True)
        await orm.update_columns(session, segment, {"name": "Hips", "languages": ["en", "de"],
                                                    "price_band": {"min": "1.00"}})
        assert not session.dirty  # committed state: nothing left for a flush to write again
        assert (segment.name, segment.version, segment.languages) == ("Hips", 2, ["en", "de"])
        assert segment.updated_at > OLD + timedelta(days=1)
        stamped = segment.updated_at
    row = await _row(db)
    assert (row["name"], row["languages"], row["price_band"], row["version"]) == ("Hips", ["en", "de"],
                                                                                  {"min": "1.00"}, 2)
    assert row["updated_at"].replace(tzinfo=UTC) == stamped and row["status"] == "active"


async def test_values_equal_to_the_row_write_nothing_as_the_flush(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment")
        await orm.update_columns(session, segment, {"name": "Knees", "languages": ["en"]})
        assert segment.version == 1
    assert (await _row(db))["version"] == 1 and (await _row(db))["updated_at"].replace(tzinfo=UTC) == OLD


async def test_a_version_changed_meanwhile_is_the_orms_stale_data_error_and_writes_nothing(db: Database) -> None:
    async with db.sessionmaker() as session:
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment")
    async with db.sessionmaker() as other, other.begin():  # another writer, after our read
        await other.execute(sa.update(Segment).where(Segment.id == "seg_1").values(version=2, name="Other"))
    async with db.sessionmaker() as session, session.begin():
        session.add(segment)  # the copy read before, version 1
        with pytest.raises(StaleDataError):
            await orm.update_columns(session, segment, {"name": "Mine"})
    row = await _row(db)
    assert (row["name"], row["version"]) == ("Other", 2)


async def test_anything_but_plain_columns_goes_through_the_flush(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment")
        await session.refresh(segment, attribute_names=["tags"])
        await orm.update_columns(session, segment, {"name": "Tagged",
                                                    "tags": [SegmentTag(kind="language", value="fr")]})
        assert segment.version == 2
    async with db.engine.connect() as conn:
        tags = (await conn.execute(sa.select(SegmentTag.__table__.c.value))).scalars().all()
    assert tags == ["fr"] and (await _row(db))["name"] == "Tagged"


async def test_an_object_already_changed_in_memory_is_written_in_one_version_step(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment")
        segment.status = "retired"
        await orm.update_columns(session, segment, {"name": "Gone"})
        assert segment.version == 2 and not session.dirty
    row = await _row(db)
    assert (row["name"], row["status"], row["version"]) == ("Gone", "retired", 2)


async def test_an_object_with_expired_values_goes_through_the_flush(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin():
        segment = await orm.get_or_raise(session, Segment, "seg_1", noun="segment")
        session.expire(segment, ["name", "version"])  # reading them here would need IO: no MissingGreenlet
        await orm.update_columns(session, segment, {"name": "Fresh"})
    row = await _row(db)
    assert (row["name"], row["version"]) == ("Fresh", 2)
