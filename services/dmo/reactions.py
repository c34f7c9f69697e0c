"""Reactions: what the coordinator does on its own when the read model changes.

Recorded, then executed. ``recheck`` runs in the consumer's transaction: it re-checks the
readiness of the segments an applied page may have changed and records one reaction per
change, keyed by the event that caused it, so a redelivered event records nothing new and
the record commits with the feed position or not at all. ``run_pending`` executes the
recorded reactions through Promotion and Development, each call idempotent (pausing a
paused campaign changes nothing, the initiative's Idempotency-Key is the reaction's key),
so a reaction executed again after a crash duplicates nothing.

- a provider's accreditation lapsed (expired, suspended, revoked) and it holds no other
  that counts: it is out of the offer already (the offer reads the read model), and its
  open enquiries are routed again (``provider.left_offer``);
- a provider gained what lets it take patients (an accreditation that counts, capacity
  while it holds one): the enquiries left unrouted are routed again
  (``provider.joined_offer``), as issue 8 asks (retried when capacity or accreditations change);
- a segment stopped being ready: each active campaign targeting it is paused with the
  reasons, and a development initiative is opened for the gap (``segment.not_ready``);
- a segment is ready again: the campaigns the coordinator paused are flagged ready to
  resume; staff resume them through the launch action (``segment.ready_again``);
- a segment retired: its campaigns end (``segment.retired``).
Time alone (an accreditation past ``expires_on``, capacity going stale) is caught by the
periodic re-check of every active segment (``recheck_all``, source ``clock``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.client import UpstreamError
from pentad.db import Database, dialect_of, try_lock, write_intent
from pentad.ids import new_id
from pentad.outbox import CloudEvent
from pentad.settings import Settings
from services.development.client import DevelopmentClient
from services.dmo import offer
from services.dmo.models import Reaction, RmAccreditation, RmSegment, RmStakeholder, SegmentReadiness
from services.promotion.client import PromotionClient

log = structlog.get_logger("dmo.reactions")

LAPSED = frozenset({"expired", "suspended", "revoked"})
COUNTING = frozenset({"valid", "expiring"})  # an accreditation that lets its holder take patients
MAX_ATTEMPTS = 10
_OPEN_CAMPAIGN = ("draft", "active", "paused")


@dataclass(frozen=True, slots=True)
class Cause:
    source: str  # the feed, or "clock"
    seq: int | None
    event_id: str
    event_type: str | None


@dataclass
class Touched:
    """What a page of events changed, each with the (last) event that changed it."""

    segments: dict[str, Cause] = field(default_factory=dict)
    retired: dict[str, Cause] = field(default_factory=dict)
    stakeholders: dict[str, Cause] = field(default_factory=dict)
    lapsed: dict[str, Cause] = field(default_factory=dict)
    gained: dict[str, Cause] = field(default_factory=dict)  # accredited now, or new capacity

    def at(self, feed: str, event: CloudEvent) -> Mark:
        return Mark(self, Cause(feed, event.seq, event.id, event.type))


@dataclass(frozen=True, slots=True)
class Mark:
    touched: Touched
    cause: Cause

    def segment(self, segment_id: str, *, retired: bool = False) -> None:
        self.touched.segments[segment_id] = self.cause
        if retired:
            self.touched.retired[segment_id] = self.cause

    def stakeholder(self, stakeholder_id: str, *, lapsed: bool = False, gained: bool = False) -> None:
        self.touched.stakeholders[stakeholder_id] = self.cause
        if lapsed:
            self.touched.lapsed[stakeholder_id] = self.cause
        if gained:
            self.touched.gained[stakeholder_id] = self.cause


async def record(session: AsyncSession, *, cause: Cause, kind: str, reason: str, segment_id: str | None = None,
                 stakeholder_id: str | None = None, detail: dict[str, Any] | None = None) -> bool:
    """One reaction, once per (cause, kind, subject): False when it was already recorded."""
    key = f"{cause.event_id}:{kind}:{segment_id or stakeholder_id}"
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    result = await session.execute(insert(Reaction).values(
        id=new_id("rea"), key=key[:200], kind=kind, segment_id=segment_id, stakeholder_id=stakeholder_id,
        reason=reason[:1000], source=cause.source, seq=cause.seq, event_id=cause.event_id[:40],
        event_type=cause.event_type, status="pending", attempts=0, outcome=detail or {},
        created_at=datetime.now(UTC), done_at=None).on_conflict_do_nothing(index_elements=["key"]))
    return getattr(result, "rowcount", 0) == 1


async def recheck(session: AsyncSession, touched: Touched, *, settings: Settings, now: datetime | None = None) -> None:
    """Reactions to what an applied page changed (in the page's own transaction)."""
    clock = offer.Clock(now or datetime.now(UTC), settings.stale_after_days)
    for sid, cause in touched.lapsed.items():
        held = await session.scalars(sa.select(RmAccreditation).where(RmAccreditation.stakeholder_id == sid))
        if not offer.counting(list(held), clock.today):
            name = await session.scalar(sa.select(RmStakeholder.name).where(RmStakeholder.id == sid))
            await record(session, cause=cause, kind="provider.left_offer", stakeholder_id=sid,
                         reason=f"{name or sid} holds no accreditation valid now ({cause.event_type}): it left the "
                                "offer; its open enquiries are routed again.")
    await _joined(session, touched, clock=clock)
    for segment_id, cause in touched.retired.items():
        await session.execute(sa.delete(SegmentReadiness).where(SegmentReadiness.segment_id == segment_id))
        await record(session, cause=cause, kind="segment.retired", segment_id=segment_id,
                     reason="The segment was retired in Segmentation: its campaigns end.")
    for segment, cause in (await _affected(session, touched)).items():
        await judge(session, segment, cause=cause, clock=clock)


async def _joined(session: AsyncSession, touched: Touched, *, clock: offer.Clock) -> None:
    """One ``provider.joined_offer`` per applied page at most, however many providers it
    touched: routing again takes every waiting enquiry, so a capacity upload of thousands
    of providers must not queue thousands of calls ahead of a pause."""
    joined: list[tuple[str, Cause]] = []
    for sid, cause in touched.gained.items():
        held = await session.scalars(sa.select(RmAccreditation).where(RmAccreditation.stakeholder_id == sid))
        if offer.counting(list(held), clock.today):
            joined.append((sid, cause))
    if not joined:
        return
    sid, cause = joined[-1]
    names = list(await session.scalars(sa.select(RmStakeholder.name).where(
        RmStakeholder.id.in_([s for s, _ in joined[:3]]))))
    more = f" and {len(joined) - 3} more" if len(joined) > 3 else ""
    await record(session, cause=cause, kind="provider.joined_offer", stakeholder_id=sid if len(joined) == 1 else None,
                 reason=f"{', '.join(names) or sid}{more} can take patients ({cause.event_type}): the enquiries "
                        "left unrouted are routed again.", detail={"stakeholder_ids": [s for s, _ in joined][:100]})


async def _affected(session: AsyncSession, touched: Touched) -> dict[RmSegment, Cause]:
    """Active segments a page may have changed: those it named, and those whose specialties a
    changed provider offers (every active one when a provider's own record changed)."""
    active = list(await session.scalars(sa.select(RmSegment).where(RmSegment.status == "active")))
    offered: dict[str, set[str]] = {}
    if touched.stakeholders:
        for sid, specialties in (await session.execute(sa.select(RmStakeholder.id, RmStakeholder.specialties)
                                                       .where(RmStakeholder.id.in_(list(touched.stakeholders))))):
            offered[sid] = set(specialties)
    found: dict[RmSegment, Cause] = {}
    for segment in active:
        if segment.id in touched.segments:
            found[segment] = touched.segments[segment.id]
            continue
        for sid, cause in touched.stakeholders.items():
            if cause.event_type == "stakeholder.updated" or set(segment.specialties) & offered.get(sid, set()):
                found[segment] = cause
    return found


async def judge(session: AsyncSession, segment: RmSegment, *, cause: Cause, clock: offer.Clock) -> None:
    """Readiness now against the last seen; a change is a reaction (the first sight is not)."""
    now = await offer.readiness_of(session, segment, clock=clock)
    seen = await session.get(SegmentReadiness, segment.id, with_for_update=True)  # replicas judge in turn
    if seen is None:
        session.add(SegmentReadiness(segment_id=segment.id, ready=now.ready, reasons=now.reasons,
                                     checked_at=clock.now))
        return
    if seen.ready and not now.ready:
        await record(session, cause=cause, kind="segment.not_ready", segment_id=segment.id,
                     reason=f"{segment.name} is no longer ready: "
                            + " ".join(r["detail"] for r in now.reasons) + " Its active campaigns are paused.",
                     detail={"reasons": now.reasons})
    elif not seen.ready and now.ready and await _last_turn(session, segment.id) == "segment.not_ready":
        await record(session, cause=cause, kind="segment.ready_again", segment_id=segment.id,
                     reason=f"{segment.name} is ready again: the campaigns paused for it may resume "
                            "(staff resume them through the launch action).")
    seen.ready, seen.reasons, seen.checked_at = now.ready, now.reasons, clock.now


async def _last_turn(session: AsyncSession, segment_id: str) -> str | None:
    """The last readiness reaction of the segment: ``ready_again`` follows a ``not_ready`` only
    (a segment becoming ready for the first time has nothing paused to resume)."""
    return await session.scalar(
        sa.select(Reaction.kind).where(Reaction.segment_id == segment_id,
                                       Reaction.kind.in_(("segment.not_ready", "segment.ready_again")))
        .order_by(Reaction.created_at.desc(), Reaction.id.desc()).limit(1))


async def recheck_all(session: AsyncSession, *, settings: Settings, now: datetime | None = None) -> None:
    """Every active segment re-checked on the clock: expiry and staleness happen without events."""
    clock = offer.Clock(now or datetime.now(UTC), settings.stale_after_days)
    cause = Cause("clock", None, f"clock:{clock.now.isoformat(timespec='seconds')}", None)
    for segment in await session.scalars(sa.select(RmSegment).where(RmSegment.status == "active")):
        await judge(session, segment, cause=cause, clock=clock)


# -- execution --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Hands:
    promotion: PromotionClient
    development: DevelopmentClient


async def run_pending(db: Database, hands: Hands, *, limit: int = 50) -> int:
    """Execute pending reactions, oldest first; how many ended (done or failed for good).

    One replica at a time (PostgreSQL): a replica reading the same pending reaction while
    another executes it would pause its campaigns or retry routing a second time."""
    if db.dialect != "postgresql":
        return await _run_pending(db, hands, limit=limit)
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as held:
            if not await try_lock(held, "dmo.reactions"):
                return 0  # another replica is at it; what it leaves pending is taken next turn
            return await _run_pending(db, hands, limit=limit)
    finally:
        write_intent.reset(token)


async def _run_pending(db: Database, hands: Hands, *, limit: int) -> int:
    async with db.read_sessionmaker() as session:
        pending = list(await session.scalars(sa.select(Reaction).where(Reaction.status == "pending")
                                             .order_by(Reaction.created_at, Reaction.id).limit(limit)))
    ended = 0
    for reaction in pending:
        try:
            outcome, status = {**reaction.outcome, **await _execute(db, hands, reaction)}, "done"
        except UpstreamError as exc:
            log.warning("reaction.failed", reaction=reaction.id, kind=reaction.kind, detail=str(exc.detail))
            outcome = {**reaction.outcome, "last_error": str(exc.detail)[:500]}
            status = "failed" if reaction.attempts + 1 >= MAX_ATTEMPTS else "pending"
        await _settle(db, reaction.id, status=status, outcome=outcome)
        ended += status != "pending"
    return ended


async def _settle(db: Database, reaction_id: str, *, status: str, outcome: dict[str, Any]) -> None:
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            await session.execute(sa.update(Reaction).where(Reaction.id == reaction_id, Reaction.status == "pending")
                                  .values(status=status, outcome=outcome, attempts=Reaction.attempts + 1,
                                          done_at=datetime.now(UTC) if status != "pending" else None))
            await session.commit()
    finally:
        write_intent.reset(token)


async def _execute(db: Database, hands: Hands, reaction: Reaction) -> dict[str, Any]:
    if reaction.kind == "provider.left_offer":
        routed = await hands.promotion.retry_routing(stakeholder_id=reaction.stakeholder_id)
        return {"enquiries_routed": routed.routed, "assignments_withdrawn": routed.withdrawn}
    if reaction.kind == "provider.joined_offer":
        return {"enquiries_routed": (await hands.promotion.retry_routing()).routed}
    segment_id = reaction.segment_id or ""
    if reaction.kind == "segment.not_ready":
        paused = [c.id for c in await hands.promotion.campaigns(status="active", segment_id=segment_id)]
        for campaign_id in paused:
            await hands.promotion.pause(campaign_id, reason=reaction.reason[:500])
        initiative = await hands.development.create_initiative({
            "segment_id": segment_id, "gap": _gap_name(reaction.outcome.get("reasons", [])),
            "title": f"Close the gap of segment {segment_id}", "description": reaction.reason[:4000],
            "owner": "DMO coordinator", "budget": {"amount": "0.00", "currency": "EUR"}},
            idempotency_key=f"dmo-reaction-{reaction.key}")
        return {"campaigns_paused": paused, "initiative_id": initiative.id}
    if reaction.kind == "segment.ready_again":
        return {"campaigns_ready_to_resume": await _paused_by_us(db, hands, segment_id)}
    if reaction.kind == "segment.retired":
        ended = [c.id for c in await hands.promotion.campaigns(segment_id=segment_id) if c.status in _OPEN_CAMPAIGN]
        for campaign_id in ended:
            await hands.promotion.end(campaign_id, reason=reaction.reason[:500])
        return {"campaigns_ended": ended}
    raise ValueError(f"unknown reaction kind {reaction.kind!r}")


def _gap_name(reasons: Sequence[dict[str, Any]]) -> str:
    """Development's gap names: the first failing requirement."""
    names = {"accredited_providers": "accredited_providers", "weekly_capacity": "weekly_capacity",
             "languages": "languages", "supporting_stakeholders": "supporting_stakeholders"}
    return next((names[r["requirement"]] for r in reasons if r["requirement"] in names), "accredited_providers")


async def _paused_by_us(db: Database, hands: Hands, segment_id: str) -> list[str]:
    """The campaigns the coordinator paused for this segment that are still paused."""
    async with db.read_sessionmaker() as session:
        outcomes = await session.scalars(sa.select(Reaction.outcome).where(
            Reaction.segment_id == segment_id, Reaction.kind == "segment.not_ready", Reaction.status == "done"))
        ours = {c for o in outcomes for c in o.get("campaigns_paused", [])}
    still = {c.id for c in await hands.promotion.campaigns(status="paused", segment_id=segment_id)}
    return sorted(ours & still)


def listing(*, segment_id: str | None, kind: str | None) -> sa.Select[Any]:
    """Reactions, optionally of one segment or kind (paged oldest first by the caller)."""
    stmt = sa.select(Reaction)
    if segment_id:
        stmt = stmt.where(Reaction.segment_id == segment_id)
    if kind:
        stmt = stmt.where(Reaction.kind == kind)
    return stmt
