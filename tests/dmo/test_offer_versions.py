"""The offer's cache is kept per version of what each segment's offer reads (``services/dmo/
versions.py``): each write of the read model counts against what it can change, in its own
transaction, and an event for one specialty leaves the cached offers of the others."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import Database, write_intent
from services.dmo import offer, readmodel, versions
from services.dmo.models import RmOfferVersion
from services.integration.client import PackagePartRef, PackageRef, StakeholderRef
from services.integration.schemas import CapacityRow
from services.segmentation.client import SegmentRef, ThresholdRef
from tests.development.helpers import post_capacity
from tests.dmo.conftest import World, start_world
from tests.dmo.helpers import cluster, get, weeks_of_slots
from tests.pillars import FAC

Write = Callable[[AsyncSession], Awaitable[None]]


@pytest.fixture
async def db(databases: Any) -> AsyncIterator[Database]:
    found = Database.connect(await databases.new("dmo"))
    yield found
    await found.dispose()


async def _all(db: Database) -> dict[str, int]:
    async with db.sessionmaker() as session:
        return dict((await session.execute(sa.select(RmOfferVersion.key, RmOfferVersion.version))).all())


async def bumped(db: Database, *writes: Write) -> dict[str, int]:
    """What the writes, committed in one transaction, counted: key -> by how much."""
    before = await _all(db)
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            for write in writes:
                await write(session)
            await session.commit()
    finally:
        write_intent.reset(token)
    after = await _all(db)
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def _segment(segment_id: str, specialties: list[str]) -> SegmentRef:
    return SegmentRef(id=segment_id, name=segment_id, status="active", specialties=specialties, source_markets=[],
                      languages=["de"], threshold=ThresholdRef(min_accredited_providers=1, min_weekly_capacity=1))


def _stakeholder(specialties: list[str], name: str = "Clinic") -> StakeholderRef:
    return StakeholderRef(id="stk_1", kind="clinic", name=name, status="active", languages=["de"],
                          specialties=specialties)


def _package(specialty: str, status: str = "published") -> PackageRef:
    part = PackagePartRef(kind="treatment", stakeholder_id="stk_1", description="t",
                          price={"amount": "100.00", "currency": "EUR"})  # type: ignore[call-arg]
    return PackageRef(id="pkg_1", name="Knee", specialty=specialty, currency="EUR", status=status, components=[part])


def _row(specialty: str, day: date) -> CapacityRow:
    return CapacityRow(specialty=specialty, date=day, slots_total=5, slots_available=3,
                       confirmed_at=datetime.now(UTC), stale=False)


def _accreditation(stakeholder_id: str = "stk_1", status: str = "valid") -> Write:
    return lambda s: readmodel.put_accreditation(
        s, accreditation_id="acc_1", stakeholder_id=stakeholder_id, scheme_id="sch_jci", scheme_code="jci",
        status=status, expires_on=date.today() + timedelta(days=400))


async def test_a_segment_change_counts_against_that_segment_only(db: Database) -> None:
    put = _segment("seg_a", ["orthopaedics"])
    assert await bumped(db, lambda s: readmodel.put_segment(s, segment_id="seg_a", segment=put)) == {
        "segment:seg_a": 1}
    assert await bumped(db, lambda s: readmodel.put_segment(s, segment_id="seg_a", segment=None)) == {
        "segment:seg_a": 1}  # gone: its offer becomes a 404


async def test_a_stakeholder_change_counts_against_the_specialties_it_had_and_has(db: Database) -> None:
    assert await bumped(db, lambda s: readmodel.put_stakeholder(
        s, stakeholder_id="stk_1", stakeholder=_stakeholder(["orthopaedics", "cardiology"]))) == {
        "specialty:orthopaedics": 1, "specialty:cardiology": 1}
    # Renamed (its place in the pages) and moved from cardiology to oncology.
    assert await bumped(db, lambda s: readmodel.put_stakeholder(
        s, stakeholder_id="stk_1", stakeholder=_stakeholder(["orthopaedics", "oncology"], name="Renamed"))) == {
        "specialty:orthopaedics": 1, "specialty:cardiology": 1, "specialty:oncology": 1}
    assert await bumped(db, lambda s: readmodel.put_stakeholder(s, stakeholder_id="stk_1", stakeholder=None)) == {
        "specialty:orthopaedics": 1, "specialty:oncology": 1}
    hotel = StakeholderRef(id="stk_h", kind="hotel", name="Hotel", status="active")
    assert await bumped(db, lambda s: readmodel.put_stakeholder(s, stakeholder_id="stk_h", stakeholder=hotel)) == {}


async def test_an_accreditation_change_counts_against_every_offer(db: Database) -> None:
    """Not against its holder's specialties, which another feed writes (readmodel.put_accreditation)."""
    await bumped(db, lambda s: readmodel.put_stakeholder(
        s, stakeholder_id="stk_1", stakeholder=_stakeholder(["orthopaedics", "cardiology"])))
    assert await bumped(db, _accreditation()) == {"all": 1}
    assert await bumped(db, _accreditation(status="revoked")) == {"all": 1}


async def test_a_capacity_change_counts_against_its_rows_specialties(db: Database) -> None:
    today = date.today()
    rows = [_row("orthopaedics", today), _row("orthopaedics", today + timedelta(days=1)), _row("oncology", today)]
    assert await bumped(db, lambda s: readmodel.put_capacity(s, stakeholder_id="stk_1", rows=rows)) == {
        "specialty:orthopaedics": 1, "specialty:oncology": 1}  # once a transaction, however many rows
    assert await bumped(db, lambda s: readmodel.put_capacity(s, stakeholder_id="stk_1", rows=[])) == {}


async def test_a_package_change_counts_against_the_specialty_it_had_and_has(db: Database) -> None:
    assert await bumped(db, lambda s: readmodel.put_package(s, package_id="pkg_1", package=_package("orthopaedics"))
                        ) == {"specialty:orthopaedics": 1}
    assert await bumped(db, lambda s: readmodel.put_package(s, package_id="pkg_1", package=_package("oncology"))
                        ) == {"specialty:orthopaedics": 1, "specialty:oncology": 1}
    assert await bumped(db, lambda s: readmodel.put_package(
        s, package_id="pkg_1", package=_package("oncology", status="withdrawn"))) == {"specialty:oncology": 1}
    assert await bumped(db, lambda s: readmodel.put_package(s, package_id="pkg_2", package=None)) == {}


async def test_fx_and_bulk_writes_count_against_what_they_change(db: Database) -> None:
    assert await bumped(db, lambda s: readmodel.put_fx(s, base="EUR", rates={"GBP": "0.85"})) == {"fx": 1}
    assert await bumped(db, lambda s: readmodel.put_accreditations(s, [], {})) == {"all": 1}
    assert await bumped(db, readmodel.clear) == {"all": 1}  # a rebuild: every offer


async def test_a_change_never_committed_counts_nothing(db: Database) -> None:
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            await readmodel.put_fx(session, base="EUR", rates={})
            await session.rollback()
    finally:
        write_intent.reset(token)
    assert await _all(db) == {}


async def test_a_rollback_inside_the_transaction_loses_no_count(db: Database) -> None:
    """A savepoint rolled back (or the first statement retried on a fresh connection) must not
    take the counts of what the transaction still commits; one counted twice costs only a
    computation."""
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            await readmodel.put_fx(session, base="EUR", rates={})
            async with session.begin_nested() as savepoint:
                await readmodel.put_segment(session, segment_id="seg_b", segment=_segment("seg_b", ["oncology"]))
                await savepoint.rollback()
            await readmodel.put_segment(session, segment_id="seg_a", segment=_segment("seg_a", ["oncology"]))
            await session.commit()
    finally:
        write_intent.reset(token)
    assert (await _all(db)).keys() >= {"fx", "segment:seg_a"}


async def test_an_offers_key_holds_its_segment_its_specialties_fx_and_all(db: Database) -> None:
    await bumped(db, readmodel.clear, lambda s: readmodel.put_segment(s, segment_id="seg_a",
                                                     segment=_segment("seg_a", ["orthopaedics", "oncology"])),
                 lambda s: readmodel.put_segment(s, segment_id="seg_b", segment=_segment("seg_b", ["cardiology"])),
                 lambda s: readmodel.put_capacity(s, stakeholder_id="stk_1", rows=[
                     _row(c, date.today()) for c in ("orthopaedics", "oncology", "cardiology")]),
                 lambda s: readmodel.put_fx(s, base="EUR", rates={}),
                 lambda s: readmodel.move(s, feed="integration", seq=7, drained_at=None))
    async with db.sessionmaker() as session:
        cursors, keys = await versions.keys_of(session, "seg_a")
    assert keys == (("all", 1), ("fx", 1), ("segment:seg_a", 1), ("specialty:oncology", 1),
                    ("specialty:orthopaedics", 1))
    assert cursors == [("integration", 7, None)]


# -- through the API: what the consumer applies ---------------------------------------------

@pytest.fixture
async def kept(databases: Any, tmp: Path) -> AsyncIterator[World]:
    """A world whose offers stay cached an hour: only a change of version computes one again."""
    async with AsyncExitStack() as stack:
        yield await start_world(stack, databases, tmp, dmo_offer_cache_seconds=3600)


async def test_an_event_for_one_specialty_computes_again_only_the_offers_of_segments_with_it(
        kept: World, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = await cluster(kept), await cluster(kept)  # each its own specialty
    await kept.catch_up()
    computed: list[str] = []
    real = offer.offer

    async def counted(session: AsyncSession, segment: Any, **kwargs: Any) -> dict[str, Any]:
        computed.append(segment.id)
        return await real(session, segment, **kwargs)

    monkeypatch.setattr(offer, "offer", counted)
    paths = {c.segment["id"]: f"/segments/{c.segment['id']}/offer" for c in (a, b)}
    async with kept.client("dmo", FAC.caller) as fac:
        first = {s: await get(fac, p) for s, p in paths.items()}
        again = {s: await get(fac, p) for s, p in paths.items()}
        assert {s: {**o, "lag_seconds": 0} for s, o in again.items()} == {  # hits
            s: {**o, "lag_seconds": 0} for s, o in first.items()}
        assert sorted(computed) == sorted(paths)
        async with kept.client("integration") as integ:  # its second provider's slots all taken
            await post_capacity(integ, a.providers[1], a.specialty, weeks_of_slots(0))
        assert await kept.catch_up() > 0
        then = {s: await get(fac, p) for s, p in paths.items()}
    assert computed[2:] == [a.segment["id"]]
    assert [p["stakeholder_id"] for p in then[a.segment["id"]]["providers"]] == [a.providers[0]]
    assert then[b.segment["id"]]["providers"] == first[b.segment["id"]]["providers"]
    assert then[b.segment["id"]]["positions"] != first[b.segment["id"]]["positions"]  # its position is current
