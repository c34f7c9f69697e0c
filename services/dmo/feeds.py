"""The consumer of the pillars' event feeds, which keeps the read model.

A pass over one feed: read the stored position, read a page of events after it, fetch
through the pillars' typed clients the records the events name only by id (the state
now, which may be newer than the event: putting it is idempotent and converges), then in
ONE transaction apply the page, re-check the readiness it may have changed (recording
reactions, ``reactions.py``) and move the position. Delivery is at least once (a pass
that fails before its commit is read again) and each handler puts a state, so a
redelivered event changes nothing: nothing missed, nothing applied twice.

Several coordinator replicas: on PostgreSQL the applying transaction takes an advisory
lock per feed and re-reads the position under it, so only one replica applies a feed at
a time and a replica that lost the race drops its page. SQLite has one writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import Database, try_lock, write_intent
from pentad.feed_reader import PAGE_SIZE, FeedReader
from pentad.outbox import CloudEvent
from pentad.settings import Settings
from services.administration.client import AdministrationClient
from services.dmo import reactions, readmodel
from services.integration.client import IntegrationClient, PackageRef, StakeholderRef
from services.integration.schemas import CapacityRow
from services.segmentation.client import SegmentationClient, SegmentRef

log = structlog.get_logger("dmo.feeds")

FEEDS = ("segmentation", "integration", "administration")
HORIZON_DAYS = 730  # Integration takes capacity up to two years ahead


@dataclass(frozen=True, slots=True)
class Pillars:
    segmentation: SegmentationClient
    integration: IntegrationClient
    administration: AdministrationClient
    http: httpx.AsyncClient
    settings: Settings

    @classmethod
    def of(cls, http: httpx.AsyncClient, settings: Settings) -> Pillars:
        return cls(SegmentationClient.for_settings(http, settings), IntegrationClient.for_settings(http, settings),
                   AdministrationClient.for_settings(http, settings), http, settings)

    def reader(self, feed: str) -> FeedReader:
        return FeedReader(self.http, self.settings, feed)


@dataclass
class Fetched:
    """The records a page of events names, as their pillars state them now."""

    segments: dict[str, SegmentRef | None] = field(default_factory=dict)
    stakeholders: dict[str, StakeholderRef | None] = field(default_factory=dict)
    capacity: dict[str, list[CapacityRow]] = field(default_factory=dict)
    packages: dict[str, PackageRef | None] = field(default_factory=dict)


_STAKEHOLDER_CHANGES = frozenset({"stakeholder.registered", "stakeholder.updated", "stakeholder.proposal_approved"})
_SEGMENT_CHANGES = frozenset({"segment.created", "segment.updated", "segment.retired"})
_PACKAGE_CHANGES = frozenset({"package.published", "package.withdrawn"})


async def fetch(pillars: Pillars, events: Sequence[CloudEvent]) -> Fetched:
    """One call per record named, however many events of the page name it."""
    segments = {e.data["segment_id"] for e in events if e.type in _SEGMENT_CHANGES}
    stakeholders = {e.data["stakeholder_id"] for e in events if e.type in _STAKEHOLDER_CHANGES}
    packages = {e.data["package_id"] for e in events if e.type in _PACKAGE_CHANGES}
    spans: dict[str, tuple[date, date]] = {}
    for e in events:
        if e.type == "capacity.updated":
            start, end = date.fromisoformat(e.data["from"]), date.fromisoformat(e.data["to"])
            was = spans.get(e.data["stakeholder_id"], (start, end))
            spans[e.data["stakeholder_id"]] = (min(was[0], start), max(was[1], end))
    found = Fetched()
    jobs = [*(_into(found.segments, s, pillars.segmentation.segment(s)) for s in segments),
            *(_into(found.stakeholders, s, pillars.integration.stakeholder(s)) for s in stakeholders),
            *(_into(found.packages, p, pillars.integration.package(p)) for p in packages),
            *(_into(found.capacity, s, pillars.integration.capacity(s, from_=a, to=b)) for s, (a, b) in spans.items())]
    for i in range(0, len(jobs), 8):  # a few at a time: a burst of events must not flood a pillar
        await asyncio.gather(*jobs[i:i + 8])
    return found


T = TypeVar("T")


async def _into(found: dict[str, T], key: str, call: Awaitable[T]) -> None:
    found[key] = await call


async def apply(session: AsyncSession, feed: str, events: Sequence[CloudEvent], fetched: Fetched,
                touched: reactions.Touched) -> None:
    for event in events:
        await _apply_one(session, event, fetched, touched.at(feed, event))


async def _apply_one(session: AsyncSession, event: CloudEvent, fetched: Fetched, touched: reactions.Mark) -> None:
    data, kind = event.data, event.type
    if kind in _SEGMENT_CHANGES:
        segment_id = data["segment_id"]
        await readmodel.put_segment(session, segment_id=segment_id, segment=fetched.segments[segment_id])
        touched.segment(segment_id, retired=kind == "segment.retired")
    elif kind in _STAKEHOLDER_CHANGES:
        sid = data["stakeholder_id"]
        await readmodel.put_stakeholder(session, stakeholder_id=sid, stakeholder=fetched.stakeholders[sid])
        touched.stakeholder(sid)
    elif kind == "capacity.updated":
        sid, specialties = data["stakeholder_id"], set(data["specialties"])
        await readmodel.put_capacity(session, stakeholder_id=sid,
                                     rows=[r for r in fetched.capacity[sid] if r.specialty in specialties])
        touched.stakeholder(sid, gained=True)
    elif kind in _PACKAGE_CHANGES:
        package_id = data["package_id"]
        await readmodel.put_package(session, package_id=package_id, package=fetched.packages[package_id])
    elif kind == "fx_rates.replaced":
        await readmodel.put_fx(session, base=data["base"], rates=data["rates"])
    elif kind.startswith("accreditation."):
        await readmodel.put_accreditation(
            session, accreditation_id=data["accreditation_id"], stakeholder_id=data["stakeholder_id"],
            scheme_id=data["scheme_id"], scheme_code=data.get("scheme_code") or data["scheme_id"],
            status=data["status"], expires_on=date.fromisoformat(data["expires_on"]))
        touched.stakeholder(data["stakeholder_id"], lapsed=data["status"] in reactions.LAPSED,
                            gained=data["status"] in reactions.COUNTING)
    # Anything else (specialties, proposals pending, memberships, complaints) is not in the read model.


def lock_name(feed: str) -> str:
    """The lock a replica holds while it applies ``feed`` (``pentad.db.lock``)."""
    return f"dmo.feed:{feed}"


async def pass_once(db: Database, pillars: Pillars, feed: str, *, limit: int = PAGE_SIZE) -> tuple[int, bool]:
    """Apply one page of ``feed``: (events applied, whether the feed is drained for now)."""
    async with db.read_sessionmaker() as session:
        after = await readmodel.position(session, feed)
    asked_at = datetime.now(UTC)
    page = await pillars.reader(feed).page(after=after, limit=limit)
    fetched = await fetch(pillars, page.items)
    drained = page.next_cursor is None
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            if not await try_lock(session, lock_name(feed)):
                return 0, False  # another replica is applying this feed
            if await readmodel.position(session, feed) != after:
                return 0, False  # moved meanwhile: this page is stale, read again
            touched = reactions.Touched()
            await apply(session, feed, page.items, fetched, touched)
            await reactions.recheck(session, touched, settings=pillars.settings)
            await readmodel.move(session, feed=feed, seq=page.items[-1].seq if page.items else after,
                                 drained_at=asked_at if drained else None)
            await session.commit()
    finally:
        write_intent.reset(token)
    if page.items:
        log.info("feed.applied", feed=feed, events=len(page.items), seq=page.items[-1].seq)
    return len(page.items), drained


async def drain(db: Database, pillars: Pillars, feed: str) -> int:
    """Pages of ``feed`` until it is drained for now; how many events were applied."""
    applied = 0
    while True:
        count, drained = await pass_once(db, pillars, feed)
        applied += count
        if drained or count == 0:
            return applied


def poll_interval(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.dmo_feed_poll_seconds)
