"""The offer and readiness of a segment, read from the read model only (no pillar called).

What follows from the clock is judged here, at read time: an accreditation counts while
its decision is ``valid`` and ``expires_on`` is today or later (``valid`` or ``expiring``
in Administration's words); a capacity row counts while it was confirmed within
``stale_after_days``. Readiness applies Development's gap rules (``services/development/
gaps.py``: ``judge``, ``weeks_from``) to figures measured here, so the coordinator and
Development say the same thing about the same data.

Each figure is a few indexed statements: the providers offering the segment's
specialties (by ``rm_stakeholder_specialties``' primary key, met with the languages by
``rm_stakeholder_languages``' language index), their accreditations (by stakeholder), their
capacity summed per week in SQL (from ``rm_capacity``'s covering index alone), their
packages (``packages.py``); never a row per capacity day in Python. An uncached offer is
four statements (page, accreditations, weeks, packages with the FX table) and ~6 ms of
Python, answers built as plain dicts and rows, no ORM object (``bench/offer.py``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.db import UTCDateTime, dialect_of
from pentad.errors import FieldError, Invalid, NotFound
from pentad.pagination import PageParams, decode_cursor, encode_cursor
from services.development import gaps
from services.development.schemas import Current, Gap
from services.dmo.binds import AMONG_SQL, ids_bind, ids_in
from services.dmo.models import (
    FeedCursor,
    RmAccreditation,
    RmCapacity,
    RmSegment,
    RmStakeholder,
    RmStakeholderLanguage,
    RmStakeholderSpecialty,
)
from services.dmo.packages import priced_packages
from services.dmo.schemas import Offer, Position
from services.integration.schemas import PROVIDER_KINDS, iso_week
from services.segmentation.client import SegmentRef, ThresholdRef

OFFER_WEEKS = 8
_PROVIDER_KINDS = sorted(k.value for k in PROVIDER_KINDS)


class SegmentNotFound(NotFound):
    slug, title = "segment-not-found", "No such segment"


@dataclass(frozen=True, slots=True)
class Clock:
    """``now`` and the staleness window, fixed for one answer."""

    now: datetime
    stale_after_days: int

    @property
    def today(self) -> date:
        return self.now.astimezone(UTC).date()

    @property
    def fresh_since(self) -> datetime:
        return self.now - timedelta(days=self.stale_after_days)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stakeholder offering at least one of the segment's specialties."""

    id: str
    name: str
    kind: str
    status: str
    languages: list[str]
    specialties: list[str]  # the segment's ones it offers


async def segment_or_raise(session: AsyncSession, segment_id: str) -> RmSegment:
    segment = await session.get(RmSegment, segment_id)
    if segment is None:
        raise SegmentNotFound(f"The coordinator knows no segment {segment_id!r} (read model as of its feed position).")
    return segment


def segment_ref(segment: RmSegment) -> SegmentRef:
    return SegmentRef(id=segment.id, name=segment.name, status=segment.status, specialties=segment.specialties,
                      source_markets=[], languages=segment.languages,
                      threshold=ThresholdRef(min_accredited_providers=segment.min_accredited_providers,
                                             min_weekly_capacity=segment.min_weekly_capacity))


# -- the statements --------------------------------------------------------------------------

_CANDIDATES = sa.text(
    "SELECT s.id, s.name, s.kind, s.status, s.languages, ss.specialty "
    "FROM rm_stakeholder_specialties ss JOIN rm_stakeholders s ON s.id = ss.stakeholder_id "
    "WHERE ss.specialty IN :specialties AND s.kind IN :kinds ORDER BY s.name, s.id"
).bindparams(sa.bindparam("specialties", expanding=True), sa.bindparam("kinds", expanding=True))

# Fresh and stale available slots per provider and week (``wk``: whole weeks since
# ``anchor``, a Monday on or before ``from``), rows of the specialties it offers only.
_WEEK = {"postgresql": "(c.date - CAST(:anchor AS date)) / 7",
         "sqlite": "CAST((julianday(c.date) - julianday(:anchor)) / 7 AS INTEGER)"}
_WEEKLY = (
    "SELECT c.stakeholder_id, {week} AS wk, "
    "sum(CASE WHEN c.confirmed_at >= :fresh_since THEN c.slots_available ELSE 0 END) AS fresh, "
    "sum(CASE WHEN c.confirmed_at < :fresh_since THEN c.slots_available ELSE 0 END) AS stale "
    "FROM rm_stakeholder_specialties ss JOIN rm_capacity c "
    "ON c.stakeholder_id = ss.stakeholder_id AND c.specialty = ss.specialty "
    "WHERE ss.specialty IN :specialties AND c.date >= :from_ AND c.date <= :to {among}"
    "GROUP BY c.stakeholder_id, wk")


@functools.cache  # one object per shape: SQLAlchemy's compiled cache then serves it (0.5 ms a call saved)
def weekly_statement(dialect: str, *, among: bool = False) -> sa.TextClause:
    """``among``: only the stakeholders of the ``among`` list (the offer's page)."""
    among_sql = f"AND ss.stakeholder_id {AMONG_SQL[dialect]} " if among else ""
    text = sa.text(_WEEKLY.format(week=_WEEK[dialect], among=among_sql))
    binds: list[sa.BindParameter[Any]] = [
        sa.bindparam("specialties", expanding=True), sa.bindparam("anchor", type_=sa.Date),
        sa.bindparam("from_", type_=sa.Date), sa.bindparam("to", type_=sa.Date),
        sa.bindparam("fresh_since", type_=UTCDateTime())]
    return text.bindparams(*binds, *([ids_bind("among", dialect)] if among else []))


async def candidates(session: AsyncSession, specialties: Sequence[str]) -> list[Candidate]:
    rows = (await session.execute(_CANDIDATES, {"specialties": list(specialties), "kinds": _PROVIDER_KINDS})).all()
    found: dict[str, Candidate] = {}
    for sid, name, kind, status, languages, specialty in rows:
        have = found.get(sid) or found.setdefault(sid, Candidate(sid, name, kind, status, _json(languages), []))
        have.specialties.append(specialty)
    for c in found.values():
        c.specialties.sort(key=list(specialties).index)
    return list(found.values())


def _json(value: Any) -> list[str]:
    """A JSON column read by a text statement: decoded on PostgreSQL, its text on SQLite."""
    return list(orjson.loads(value) if isinstance(value, str) else value)


@dataclass(frozen=True, slots=True)
class Weeks:
    anchor: date  # the Monday of week 0
    fresh: dict[str, dict[int, int]]  # stakeholder → week index → fresh slots
    stale: dict[str, int]  # stakeholder → stale slots in the window

    # Each week's label and Monday, computed once per answer (a page asks ~450 times for ~9 weeks).
    _weeks: dict[int, tuple[str, date]] = field(default_factory=dict)

    def week(self, index: int) -> tuple[str, date]:
        """Its ISO label and its Monday."""
        found = self._weeks.get(index)
        if found is None:
            monday = self.anchor + timedelta(weeks=index)
            found = self._weeks[index] = (iso_week(monday), monday)
        return found


async def weekly(session: AsyncSession, specialties: Sequence[str], *, from_: date, to: date, clock: Clock,
                 among: Sequence[str] | None = None) -> Weeks:
    """Slots per provider and week; of the providers ``among`` only, when given."""
    anchor = from_ - timedelta(days=from_.weekday())
    params = {"specialties": list(specialties), "anchor": anchor, "from_": from_, "to": to,
              "fresh_since": clock.fresh_since}
    if among is not None and not among:
        return Weeks(anchor, {}, {})
    statement = weekly_statement(dialect_of(session), among=among is not None)
    rows = (await session.execute(statement, {**params, **({"among": list(among)} if among else {})})).all()
    fresh: dict[str, dict[int, int]] = {}
    stale: dict[str, int] = {}
    for sid, wk, fresh_slots, stale_slots in rows:
        if fresh_slots:
            fresh.setdefault(sid, {})[int(wk)] = int(fresh_slots)
        if stale_slots:
            stale[sid] = stale.get(sid, 0) + int(stale_slots)
    return Weeks(anchor, fresh, stale)


@dataclass(frozen=True, slots=True)
class Held:
    """An accreditation as the offer reads it (``rm_accreditations``' columns, no ORM object)."""

    id: str
    stakeholder_id: str
    scheme_id: str
    scheme_code: str
    state: str
    expires_on: date


_HELD = sa.select(*(RmAccreditation.__table__.c[f.name] for f in dataclasses.fields(Held)))


@functools.cache
def _held_by(dialect: str, *, counting: bool) -> sa.Select[Any]:
    a = RmAccreditation
    statement = _HELD.where(ids_in(a.stakeholder_id, "ids", dialect)).order_by(a.id)
    return statement.where(a.state == "valid", a.expires_on >= sa.bindparam("today")) if counting else statement


async def accreditations(session: AsyncSession, stakeholder_ids: Sequence[str], *,
                         counting_on: date | None = None) -> dict[str, list[Held]]:
    """Each stakeholder's accreditations by id; only those that count on ``counting_on`` when given."""
    statement = _held_by(dialect_of(session), counting=counting_on is not None)
    values = {} if counting_on is None else {"today": counting_on}
    held: dict[str, list[Held]] = {}
    for start in range(0, len(stakeholder_ids), 1000):
        for row in await session.execute(statement, {"ids": stakeholder_ids[start:start + 1000], **values}):
            found = Held(*row)
            held.setdefault(found.stakeholder_id, []).append(found)
    return held


class Dated(Protocol):
    """An accreditation's decision and date: ``Held`` here, ``RmAccreditation`` in the reactions."""

    @property
    def state(self) -> str: ...

    @property
    def expires_on(self) -> date: ...


D = TypeVar("D", bound=Dated)


def status_now(a: Dated, today: date, expiring_days: int = 90) -> str:
    """As Administration reads it (``lifecycle.accreditation_status``)."""
    if a.state != "valid":
        return a.state
    if a.expires_on < today:
        return "expired"
    return "expiring" if a.expires_on <= today + timedelta(days=expiring_days) else "valid"


def counting(held: Sequence[D], today: date) -> list[D]:
    return [a for a in held if a.state == "valid" and a.expires_on >= today]


# -- readiness -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Readiness:
    segment_id: str
    ready: bool
    reasons: list[dict[str, Any]]
    gap: Gap


async def readiness(session: AsyncSession, segment_id: str, *, stale_after_days: int,
                    now: datetime | None = None) -> Readiness:
    """The segment's threshold against what the read model holds now (Development's rules).
    The actions' launch-campaign calls this; raises ``SegmentNotFound`` for an unknown id."""
    segment = await segment_or_raise(session, segment_id)
    return await readiness_of(session, segment, clock=Clock(now or datetime.now(UTC), stale_after_days))


async def readiness_of(session: AsyncSession, segment: RmSegment, *, clock: Clock) -> Readiness:
    weeks = gaps.weeks_from(clock.today)
    found = [c for c in await candidates(session, segment.specialties) if c.status == "active"]
    held = await accreditations(session, [c.id for c in found])
    accredited = [c for c in found if counting(held.get(c.id, []), clock.today)]
    supply = await weekly(session, segment.specialties, from_=weeks[0], to=weeks[-1] + timedelta(days=6), clock=clock)
    ids = {c.id for c in accredited}
    per_week = [sum(by.get(i, 0) for sid, by in supply.fresh.items() if sid in ids) for i in range(len(weeks))]
    weakest = min(range(len(weeks)), key=lambda i: (per_week[i], i))
    spoken = {lang for c in accredited for lang in c.languages}
    hotels, transfers = await _supporting(session)
    current = Current(accredited_providers=len(accredited), weekly_capacity=per_week[weakest],
                      weakest_week=iso_week(weeks[weakest]),
                      languages_covered=[lang for lang in segment.languages if lang in spoken],
                      languages_missing=[lang for lang in segment.languages if lang not in spoken],
                      hotels=hotels, transfer_firms=transfers)
    gap = gaps.judge(segment_ref(segment), current)
    reasons = reasons_of(gap)
    if segment.status != "active":
        reasons.insert(0, {"requirement": "segment_active", "needed": "active", "have": segment.status,
                           "shortfall": 1, "detail": f"The segment is {segment.status}."})
    return Readiness(segment.id, not reasons, reasons, gap)


async def _supporting(session: AsyncSession) -> tuple[int, int]:
    counts = dict((await session.execute(
        sa.select(RmStakeholder.kind, sa.func.count()).where(
            RmStakeholder.status == "active", RmStakeholder.kind.in_(("hotel", "transfer")))
        .group_by(RmStakeholder.kind))).all())
    return int(counts.get("hotel", 0)), int(counts.get("transfer", 0))


def reasons_of(gap: Gap) -> list[dict[str, Any]]:
    """Each failing requirement with its numbers (nothing for one that is met)."""
    t, c, s = gap.threshold, gap.current, gap.shortfalls
    reasons = []
    if s.accredited_providers:
        reasons.append({"requirement": "accredited_providers", "needed": t.min_accredited_providers,
                        "have": c.accredited_providers, "shortfall": s.accredited_providers,
                        "detail": f"{c.accredited_providers} accredited provider(s) offer the segment's specialties; "
                                  f"{t.min_accredited_providers} needed."})
    if s.weekly_capacity:
        reasons.append({"requirement": "weekly_capacity", "needed": t.min_weekly_capacity, "have": c.weekly_capacity,
                        "shortfall": s.weekly_capacity, "week": c.weakest_week,
                        "detail": f"Week {c.weakest_week} has {c.weekly_capacity} fresh slot(s) at accredited "
                                  f"providers; {t.min_weekly_capacity} needed in each of the next 8 weeks."})
    if s.languages:
        reasons.append({"requirement": "languages", "needed": t.languages, "have": c.languages_covered,
                        "shortfall": s.languages,
                        "detail": f"No accredited provider speaks {', '.join(c.languages_missing)}."})
    if s.supporting_stakeholders:
        reasons.append({"requirement": "supporting_stakeholders", "needed": t.hotels + t.transfer_firms,
                        "have": min(c.hotels, t.hotels) + min(c.transfer_firms, t.transfer_firms),
                        "shortfall": s.supporting_stakeholders,
                        "detail": f"{c.hotels} active hotel(s) and {c.transfer_firms} active transfer firm(s); "
                                  f"a package needs {t.hotels} and {t.transfer_firms}."})
    return reasons


# -- the offer -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Window:
    from_: date
    to: date


def window_of(from_: date | None, to: date | None, today: date) -> Window:
    """Default: the next 8 weeks from today; at most a year (a wider one is a 422)."""
    start = from_ or today
    end = to or (start + timedelta(weeks=OFFER_WEEKS) - timedelta(days=1))
    if end < start:
        raise Invalid("The window ends before it starts.", errors=[
            FieldError(field="query.to", message="must not be before `from`", value=end.isoformat())])
    if (end - start).days > 366:
        raise Invalid("The window is at most a year.", errors=[
            FieldError(field="query.to", message="at most 366 days after `from`", value=end.isoformat())])
    return Window(start, end)


async def offer(session: AsyncSession, segment: RmSegment, *, window: Window, clock: Clock, currency: str | None,
                explain: bool, paging: PageParams) -> dict[str, Any]:
    """A page of providers by name (``next_cursor`` for the next) and, with ``explain``, every
    provider of the segment's specialties left out and why. A retired segment offers nobody:
    ``retired`` and no provider (its readiness fails on ``segment_active`` alike)."""
    if segment.status == "retired":
        return {"segment_id": segment.id, "from": window.from_, "to": window.to, "currency": currency,
                "providers": [], "next_cursor": None, "retired": True, "near_misses": [] if explain else None}
    rows = (await session.execute(*page_statement(segment, window=window, clock=clock, paging=paging))).all()
    page, more = rows[:paging.limit], len(rows) > paging.limit
    ids = [r.id for r in page]
    held = await accreditations(session, ids, counting_on=clock.today)
    supply = await weekly(session, segment.specialties, from_=window.from_, to=window.to, clock=clock, among=ids)
    packages = await priced_packages(session, ids, segment.specialties, currency)
    providers = [_provider(Candidate(r.id, r.name, r.kind, "active", _json(r.languages),
                                     _offered(_json(r.specialties), segment.specialties)),
                           held.get(r.id, []), supply, packages.get(r.id, []), clock) for r in page]
    answer: dict[str, Any] = {"segment_id": segment.id, "from": window.from_, "to": window.to,
                              "currency": currency, "providers": providers, "retired": False,
                              "next_cursor": encode_cursor([page[-1].name, page[-1].id]) if more else None}
    if explain:
        answer["near_misses"] = await near_misses(session, segment, window=window, clock=clock)
    return answer


# The answer's fields in the order the ``Offer`` schema writes them, its position left out
# (each request puts its own first).
_ANSWER = tuple(f.alias or name for name, f in Offer.model_fields.items() if name not in Position.model_fields)


def encode(answer: dict[str, Any]) -> bytes:
    """The answer's JSON as ``Offer.model_validate(answer).model_dump_json(by_alias=True)`` writes
    it, position left out, without validating again what was built here to its shape: that
    took 1-2.6 ms a computed offer (~50 providers, ~450 weeks). A test holds the two equal."""
    return orjson.dumps({key: answer.get(key) for key in _ANSWER})


def page_statement(segment: RmSegment, *, window: Window, clock: Clock,
                   paging: PageParams) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The offer's providers, one page, by name: the statement and its values. Started from the
    segment's specialties (``rm_stakeholder_specialties``' primary key: ~900 of 10,000
    stakeholders at national scale) met with its languages, each kept if active and
    accredited now, sorted; only then probed for a fresh row with slots in the window, so the
    probes stop at the page's end (~60 instead of ~220; 10 -> ~4 ms, ``bench/offer.py``)."""
    values: dict[str, Any] = {"specialties": segment.specialties, "languages": segment.languages,
                              "today": clock.today, "from_": window.from_, "to": window.to,
                              "fresh_since": clock.fresh_since, "limit": paging.limit + 1}
    if paging.cursor is not None:
        values["after_name"], values["after_id"] = decode_cursor(paging.cursor, _PAGE_KEY)
    return _page(languages=bool(segment.languages), after=paging.cursor is not None), values


@functools.cache  # built once per shape: building and keying it cost ~1 ms an offer
def _page(*, languages: bool, after: bool) -> sa.Select[Any]:
    s, ss, a, lang = RmStakeholder, RmStakeholderSpecialty, RmAccreditation, RmStakeholderLanguage
    specialties = _inline("specialties")
    offering = sa.select(ss.stakeholder_id).where(ss.specialty.in_(specialties)).distinct().subquery()
    conditions = [s.status == _inline("status", "active"), s.kind.in_(_inline("kinds", _PROVIDER_KINDS)),
                  sa.exists().where(a.stakeholder_id == s.id, a.state == _inline("state", "valid"),
                                    a.expires_on >= _inline("today"))]
    if languages:
        conditions.append(sa.exists().where(lang.stakeholder_id == s.id, lang.language.in_(_inline("languages"))))
    if after:
        name, sid = sa.bindparam("after_name", type_=sa.String), sa.bindparam("after_id", type_=sa.String)
        conditions.append(sa.or_(s.name > name, sa.and_(s.name == name, s.id > sid)))
    # ORDER BY keeps PostgreSQL from pulling the subquery up: the probes below run on its sorted rows.
    kept = (sa.select(s.id, s.name, s.kind, s.languages, s.specialties)
            .join_from(offering, s, s.id == offering.c.stakeholder_id).where(*conditions)
            .order_by(s.name, s.id).subquery())
    return (sa.select(kept).where(_fresh_capacity(kept.c.id, specialties))
            .order_by(kept.c.name, kept.c.id).limit(sa.bindparam("limit", type_=sa.Integer)))


_LISTS = frozenset({"specialties", "languages", "kinds"})


def _inline(name: str, value: Any = None) -> sa.BindParameter[Any]:
    """A value written into the statement's text rather than bound. asyncpg prepares each
    statement; after five runs PostgreSQL plans it once for any values, and blind to which
    specialties, languages and day it is, that plan hashes every accreditation (5.9 ms a
    page against 3.3 ms planned for the values). Written in, each segment's page has its own
    statement (a few dozen per connection, within asyncpg's cache of 100), planned for its
    values. Only values from the read model and the clock's day, never a caller's text."""
    return sa.bindparam(name, value, expanding=name in _LISTS, literal_execute=True)


def _fresh_capacity(stakeholder_id: sa.ColumnElement[str], specialties: sa.BindParameter[Any]) -> sa.Exists:
    """A row with slots in the window, confirmed within the staleness window, for one of
    ``specialties`` the stakeholder offers."""
    ss, c = RmStakeholderSpecialty, RmCapacity
    return (sa.select(sa.literal(1))
            .select_from(sa.join(ss, c, sa.and_(c.stakeholder_id == ss.stakeholder_id, c.specialty == ss.specialty)))
            .where(ss.stakeholder_id == stakeholder_id, ss.specialty.in_(specialties),
                   c.date >= sa.bindparam("from_"), c.date <= sa.bindparam("to"),
                   c.confirmed_at >= sa.bindparam("fresh_since"), c.slots_available > 0).exists())


def _offered(approved: list[str], wanted: list[str]) -> list[str]:
    """The segment's specialties the stakeholder offers, in the segment's order (its
    ``specialties`` column is what ``rm_stakeholder_specialties`` is written from)."""
    return sorted(set(approved) & set(wanted), key=wanted.index)


async def near_misses(session: AsyncSession, segment: RmSegment, *, window: Window, clock: Clock
                      ) -> list[dict[str, Any]]:
    """Every provider of the segment's specialties that the offer leaves out, with each rule it fails."""
    found = await candidates(session, segment.specialties)
    held = await accreditations(session, [c.id for c in found])
    supply = await weekly(session, segment.specialties, from_=window.from_, to=window.to, clock=clock)
    return [{"stakeholder_id": c.id, "name": c.name, "reasons": why} for c in found
            if (why := _left_out(c, segment, held.get(c.id, []), supply, clock))]


_PAGE_KEY = (RmStakeholder.name, RmStakeholder.id)


def _left_out(c: Candidate, segment: RmSegment, held: list[Held], supply: Weeks,
              clock: Clock) -> list[str] | None:
    reasons = []
    if c.status != "active":
        reasons.append(f"inactive in the register ({c.status})")
    if not counting(held, clock.today):
        states = sorted({status_now(a, clock.today) for a in held})
        reasons.append("no accreditation valid now" + (f" (held: {', '.join(states)})" if states
                                                       else " (none held)"))
    if not sum(supply.fresh.get(c.id, {}).values()):
        stale = supply.stale.get(c.id, 0)
        reasons.append(f"no fresh capacity in the window ({stale} slot(s) not re-confirmed within "
                       f"{clock.stale_after_days} days)" if stale else "no capacity posted in the window")
    if segment.languages and not set(segment.languages) & set(c.languages):
        reasons.append(f"speaks none of the segment's languages ({', '.join(segment.languages)})")
    return reasons or None


def _provider(c: Candidate, held: list[Held], supply: Weeks, packages: list[dict[str, Any]],
              clock: Clock) -> dict[str, Any]:
    weeks, today = supply.fresh.get(c.id, {}), clock.today
    return {"stakeholder_id": c.id, "name": c.name, "kind": c.kind, "specialties": c.specialties,
            "languages": c.languages,
            "accreditations": [{"id": a.id, "scheme_id": a.scheme_id, "scheme_code": a.scheme_code,
                                "status": status_now(a, today), "expires_on": a.expires_on}
                               for a in counting(held, today)],
            "capacity": [{"week": label, "starts_on": monday, "fresh_slots": weeks[i]}
                         for i in sorted(weeks) for label, monday in (supply.week(i),)],
            "packages": packages}


async def feed_position(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """``as_of``: every pillar event committed before it is applied (the oldest feed's last
    drain); ``lag_seconds``: how long ago that was; ``positions``: each feed's seq."""
    return position_of([(r.feed, r.seq, r.drained_at) for r in (await session.execute(_CURSORS)).all()], now)


def position_of(cursors: Sequence[tuple[str, int, datetime | None]], now: datetime) -> dict[str, Any]:
    """The position from the feed cursors' rows (feed, seq, drained_at). Every offer asks it,
    cached or not (``versions.keys_of`` reads them with the cache key): rows, not ORM objects."""
    drained = [d for _, _, d in cursors]
    complete = len(cursors) >= 3 and all(d is not None for d in drained)
    as_of = min(d for d in drained if d is not None) if complete else None
    return {"as_of": as_of, "lag_seconds": round((now - as_of).total_seconds(), 3) if as_of else None,
            "positions": {feed: seq for feed, seq, _ in cursors}}


_CURSORS = sa.select(FeedCursor.feed, FeedCursor.seq, FeedCursor.drained_at).order_by(FeedCursor.feed)
