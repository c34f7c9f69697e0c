"""The read model rebuilt from the pillars' APIs: on demand (``POST /rebuilds``) and when it is
empty (a new coordinator, or one whose database was lost).

Each feed's head is read FIRST, then the records: every event up to the head is already
reflected in what the APIs answer after it, so the cursors start at the heads and the
consumer goes on from there (an event after a head that the snapshot already shows is
applied again, which changes nothing). All is written in one transaction, with every
feed's lock held on PostgreSQL, so a reader sees the old model or the new one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pentad.db import Database, lock, write_intent
from pentad.ids import new_id
from services.dmo import reactions, readmodel
from services.dmo.feeds import FEEDS, HORIZON_DAYS, Pillars, lock_name
from services.dmo.models import Rebuild as RebuildRecord
from services.integration.schemas import PROVIDER_KINDS, CapacityRow

CAPACITY_PAGE = 5000  # rows a call (Integration's bulk page at most)
ALL_ACCREDITATIONS = ("pending", "valid", "expiring", "expired", "suspended", "revoked")
_PROVIDERS = frozenset(k.value for k in PROVIDER_KINDS)


async def rebuild(db: Database, pillars: Pillars, *, reason: str, requested_by: str | None = None) -> RebuildRecord:
    """Replace the read model with what the pillars say now; recorded (counts put, positions)."""
    asked_at = datetime.now(UTC)
    heads = {feed: await pillars.reader(feed).head() for feed in FEEDS}
    seg, integ, adm = pillars.segmentation, pillars.integration, pillars.administration
    segments = [*await seg.segments(status="active"), *await seg.segments(status="retired")]
    stakeholders = await integ.stakeholders(status=None)
    packages, fx, schemes = await integ.packages(), await integ.fx_rates(), await adm.schemes()
    accreditations = await adm.accreditations(status=ALL_ACCREDITATIONS)
    capacity, capacity_calls = await _capacity(
        pillars, {s.id for s in stakeholders if s.kind in _PROVIDERS and s.specialties}, today=asked_at.date())
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            for feed in FEEDS:
                await lock(session, lock_name(feed))
            await readmodel.clear(session)
            for segment in segments:
                await readmodel.put_segment(session, segment_id=segment.id, segment=segment)
            for stakeholder in stakeholders:
                await readmodel.put_stakeholder(session, stakeholder_id=stakeholder.id, stakeholder=stakeholder)
            for stakeholder_id, rows in capacity.items():
                await readmodel.put_capacity(session, stakeholder_id=stakeholder_id, rows=rows)
            for package in packages:
                await readmodel.put_package(session, package_id=package.id, package=package)
            await readmodel.put_fx(session, base=fx.base, rates={c: str(r) for c, r in fx.rates.items()})
            await readmodel.put_accreditations(session, accreditations, {s.id: s.code for s in schemes})
            for feed, seq in heads.items():
                await readmodel.move(session, feed=feed, seq=seq, drained_at=asked_at)
            await reactions.recheck_all(session, settings=pillars.settings)
            record = RebuildRecord(
                id=new_id("rbd"), reason=reason, requested_by=requested_by, positions=heads, started_at=asked_at,
                finished_at=datetime.now(UTC), counts={
                    "segments": len(segments), "stakeholders": len(stakeholders), "packages": len(packages),
                    "accreditations": len(accreditations), "capacity_rows": sum(map(len, capacity.values())),
                    "capacity_calls": capacity_calls})
            session.add(record)
            await session.commit()
    finally:
        write_intent.reset(token)
    return record


async def _capacity(pillars: Pillars, providers: set[str], *, today: date
                    ) -> tuple[dict[str, list[CapacityRow]], int]:
    """The providers' rows from yesterday to the horizon, read in bulk (``GET /capacity``, pages
    of ``CAPACITY_PAGE`` rows: rows / page calls, not one per provider); and how many calls."""
    start, end = today - timedelta(days=1), today + timedelta(days=HORIZON_DAYS)
    listed, calls = await pillars.integration.all_capacity(from_=start, to=end, page=CAPACITY_PAGE)
    found: dict[str, list[CapacityRow]] = {}
    for row in listed:
        if row.stakeholder_id in providers:
            found.setdefault(row.stakeholder_id, []).append(row)
    return found, calls
