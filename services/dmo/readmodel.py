"""Writing the read model: each record put as a pillar states it now, so applying the same
state twice changes nothing (the consumer's handlers are idempotent by construction).

Service functions only flush; the consumer (``feeds.py``) and the rebuild commit. Each put
counts its change against what offers it can change (``versions.py``), written with that commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import dialect_of
from services.administration.client import AccreditationRef
from services.dmo import versions
from services.dmo.models import (
    FeedCursor,
    RmAccreditation,
    RmCapacity,
    RmFxTable,
    RmPackage,
    RmPackageStakeholder,
    RmSegment,
    RmStakeholder,
    RmStakeholderLanguage,
    RmStakeholderSpecialty,
)
from services.integration.client import PackageRef, StakeholderRef
from services.integration.schemas import CapacityRow
from services.segmentation.client import SegmentRef

# The decision an accreditation's status stands for: expiry follows from the dates (read time).
_DATED = frozenset({"valid", "expiring", "expired"})
_ROWS_PER_STATEMENT = 2000  # SQLite's bound-parameter limit is 32,766; 5 columns a row


def state_of(status: str) -> str:
    return "valid" if status in _DATED else status


async def upsert(session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]],
                 keys: Sequence[str]) -> None:
    """Insert ``rows``, or overwrite the ones whose ``keys`` exist."""
    if not rows:
        return
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    table = model.__table__
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        stmt = insert(table).values(list(rows[start:start + _ROWS_PER_STATEMENT]))
        others = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=others) if others \
            else stmt.on_conflict_do_nothing(index_elements=list(keys))
        await session.execute(stmt)


async def put_segment(session: AsyncSession, *, segment_id: str, segment: SegmentRef | None) -> None:
    versions.bump(session, [versions.segment(segment_id)])
    if segment is None:  # gone from Segmentation: nothing to offer for it
        await session.execute(sa.delete(RmSegment).where(RmSegment.id == segment_id))
        return
    await upsert(session, RmSegment, [{
        "id": segment.id, "name": segment.name, "status": segment.status, "specialties": segment.specialties,
        "languages": segment.languages, "min_accredited_providers": segment.threshold.min_accredited_providers,
        "min_weekly_capacity": segment.threshold.min_weekly_capacity}], ["id"])


async def put_stakeholder(session: AsyncSession, *, stakeholder_id: str, stakeholder: StakeholderRef | None) -> None:
    """Its name, status, kind and languages show in the offers of the specialties it had and has."""
    ss = RmStakeholderSpecialty
    had = await session.scalars(sa.delete(ss).where(ss.stakeholder_id == stakeholder_id).returning(ss.specialty))
    versions.bump(session, map(versions.specialty, [*had, *(stakeholder.specialties if stakeholder else [])]))
    lang = RmStakeholderLanguage
    await session.execute(sa.delete(lang).where(lang.stakeholder_id == stakeholder_id))
    if stakeholder is None:
        await session.execute(sa.delete(RmStakeholder).where(RmStakeholder.id == stakeholder_id))
        return
    await upsert(session, RmStakeholder, [{
        "id": stakeholder.id, "kind": stakeholder.kind, "name": stakeholder.name, "status": stakeholder.status,
        "languages": stakeholder.languages, "specialties": stakeholder.specialties}], ["id"])
    await upsert(session, RmStakeholderSpecialty, [
        {"specialty": s, "stakeholder_id": stakeholder.id} for s in dict.fromkeys(stakeholder.specialties)],
        ["specialty", "stakeholder_id"])
    await upsert(session, RmStakeholderLanguage, [
        {"stakeholder_id": stakeholder.id, "language": lang} for lang in dict.fromkeys(stakeholder.languages)],
        ["stakeholder_id", "language"])


async def put_capacity(session: AsyncSession, *, stakeholder_id: str, rows: Iterable[CapacityRow]) -> None:
    """Rows as Integration holds them (capacity is upserted there, never deleted)."""
    rows = list(rows)
    versions.bump(session, {versions.specialty(r.specialty) for r in rows})
    await upsert(session, RmCapacity, [
        {"stakeholder_id": stakeholder_id, "specialty": r.specialty, "date": r.date,
         "slots_available": r.slots_available, "confirmed_at": r.confirmed_at} for r in rows],
        ["stakeholder_id", "specialty", "date"])


async def put_package(session: AsyncSession, *, package_id: str, package: PackageRef | None) -> None:
    """Only published packages are kept: a withdrawn one leaves the offer."""
    had = await session.scalar(sa.select(RmPackage.specialty).where(RmPackage.id == package_id))
    versions.bump(session, [versions.specialty(s) for s in (had, package and package.specialty) if s])
    await session.execute(sa.delete(RmPackageStakeholder).where(RmPackageStakeholder.package_id == package_id))
    if package is None or package.status != "published":
        await session.execute(sa.delete(RmPackage).where(RmPackage.id == package_id))
        return
    await upsert(session, RmPackage, [{
        "id": package.id, "name": package.name, "specialty": package.specialty, "currency": package.currency,
        "components": [c.model_dump(mode="json") for c in package.components]}], ["id"])
    await upsert(session, RmPackageStakeholder, [
        {"stakeholder_id": s, "package_id": package.id}
        for s in sorted({c.stakeholder_id for c in package.components})], ["stakeholder_id", "package_id"])


async def put_fx(session: AsyncSession, *, base: str, rates: dict[str, str]) -> None:
    versions.bump(session, [versions.FX])
    await upsert(session, RmFxTable, [{"id": 1, "base": base, "rates": rates}], ["id"])


async def put_accreditation(session: AsyncSession, *, accreditation_id: str, stakeholder_id: str, scheme_id: str,
                            scheme_code: str, status: str, expires_on: date) -> None:
    """Counted against every offer (``versions.ALL``), not its stakeholder's specialties: those
    come from Integration's feed, which another transaction may be applying at this moment
    (another replica, a launch catching up). Read here before it commits, the specialties it is
    adding would miss their count, and an offer computed between the two commits would stay
    cached without this accreditation. Accreditations change a few times a year a provider:
    every offer computed again for each costs nothing worth a lock across feeds."""
    await upsert(session, RmAccreditation, [{
        "id": accreditation_id, "stakeholder_id": stakeholder_id, "scheme_id": scheme_id,
        "scheme_code": scheme_code, "state": state_of(status), "expires_on": expires_on}], ["id"])
    versions.bump(session, [versions.ALL])


async def put_accreditations(session: AsyncSession, found: Sequence[AccreditationRef],
                             codes: dict[str, str]) -> None:
    """In bulk (the rebuild's): counted against every offer."""
    versions.bump(session, [versions.ALL])
    await upsert(session, RmAccreditation, [{
        "id": a.id, "stakeholder_id": a.stakeholder_id, "scheme_id": a.scheme_id,
        "scheme_code": codes.get(a.scheme_id, a.scheme_id), "state": state_of(a.status),
        "expires_on": a.expires_on} for a in found], ["id"])


# -- cursors ------------------------------------------------------------------------------------

async def position(session: AsyncSession, feed: str) -> int:
    return int(await session.scalar(sa.select(FeedCursor.seq).where(FeedCursor.feed == feed)) or 0)


async def move(session: AsyncSession, *, feed: str, seq: int, drained_at: datetime | None) -> None:
    """The feed's new position; ``drained_at`` when the page read was its last one for now."""
    row: dict[str, Any] = {"feed": feed, "seq": seq}
    if drained_at is not None:
        row["drained_at"] = drained_at
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = insert(FeedCursor).values(**{"drained_at": None, **row})
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["feed"], set_={k: stmt.excluded[k] for k in row if k != "feed"}))


async def is_empty(session: AsyncSession) -> bool:
    """Nothing applied yet from any feed and no record: a rebuild from the APIs is due."""
    have = await session.scalar(sa.select(sa.func.count()).select_from(FeedCursor))
    return not have and await session.scalar(sa.select(RmSegment.id).limit(1)) is None


async def clear(session: AsyncSession) -> None:
    """Every read-model table and cursor emptied, before a rebuild puts them back: every offer
    may change (a specialty the rebuild puts nothing back for included). The versions stay."""
    versions.bump(session, [versions.ALL])
    for model in (RmSegment, RmStakeholder, RmStakeholderSpecialty, RmStakeholderLanguage, RmCapacity, RmPackage,
                  RmPackageStakeholder, RmFxTable, RmAccreditation, FeedCursor):
        await session.execute(sa.delete(model))
