"""Tables of the DMO coordinator service.

The read model (``rm_*``) is the coordinator's own copy of what the offer and readiness
need from Segmentation, Integration and Administration, fed from their event feeds
(``feeds.py``) and rebuilt from their APIs on demand (``rebuild.py``). It stores what the
pillars stated (decisions, dates, confirmation times), never what follows from the clock:
an accreditation's expiry and a capacity row's staleness are judged when it is read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


# -- read model: Segmentation ----------------------------------------------------------------

class RmSegment(Base):
    __tablename__ = "rm_segments"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    specialties: Mapped[list[str]] = mapped_column(sa.JSON)
    languages: Mapped[list[str]] = mapped_column(sa.JSON)
    min_accredited_providers: Mapped[int] = mapped_column(sa.Integer)
    min_weekly_capacity: Mapped[int] = mapped_column(sa.Integer)


# -- read model: Integration -----------------------------------------------------------------

class RmStakeholder(Base):
    __tablename__ = "rm_stakeholders"
    # The offer pages its providers by name: walked in this order, each checked by index probes.
    __table_args__ = (sa.Index("ix_rm_stakeholders_name_id", "name", "id"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20))
    languages: Mapped[list[str]] = mapped_column(sa.JSON)
    specialties: Mapped[list[str]] = mapped_column(sa.JSON)  # approved ones only


class RmStakeholderSpecialty(Base):
    """One row per approved specialty of an active provider: the offer's entry point, by specialty."""

    __tablename__ = "rm_stakeholder_specialties"

    specialty: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class RmStakeholderLanguage(Base):
    """The languages a stakeholder speaks, one row each: the offer's language rule is an index probe."""

    __tablename__ = "rm_stakeholder_languages"
    # The offer meets a segment's languages with its specialties from this side (migration dmo_0005).
    __table_args__ = (sa.Index("ix_rm_stakeholder_languages_language_stakeholder_id", "language", "stakeholder_id"),)

    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(2), primary_key=True)


class RmCapacity(Base):
    """Slots a provider posted for one specialty on one day, with when it was last confirmed."""

    __tablename__ = "rm_capacity"
    # Week sums and fresh-capacity probes from the index alone on PostgreSQL (migration dmo_0005).
    __table_args__ = (sa.Index("ix_rm_capacity_covering", "stakeholder_id", "specialty", "date",
                               postgresql_include=["confirmed_at", "slots_available"]),)

    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    specialty: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    slots_available: Mapped[int] = mapped_column(sa.Integer)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RmPackage(Base):
    """A published package (withdrawn ones are deleted), components as Integration holds them."""

    __tablename__ = "rm_packages"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    specialty: Mapped[str] = mapped_column(sa.String(50))
    currency: Mapped[str] = mapped_column(sa.String(3))
    components: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)


class RmPackageStakeholder(Base):
    __tablename__ = "rm_package_stakeholders"

    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    package_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class RmFxTable(Base):
    __tablename__ = "rm_fx"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    base: Mapped[str] = mapped_column(sa.String(3))
    rates: Mapped[dict[str, str]] = mapped_column(sa.JSON)


# -- read model: Administration --------------------------------------------------------------

class RmAccreditation(Base):
    """``state`` is the decision (pending, valid, suspended, revoked); expiry follows from
    ``expires_on`` at read time, as in Administration."""

    __tablename__ = "rm_accreditations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    scheme_id: Mapped[str] = mapped_column(sa.String(40))
    scheme_code: Mapped[str] = mapped_column(sa.String(40))
    state: Mapped[str] = mapped_column(sa.String(20))
    expires_on: Mapped[date] = mapped_column(sa.Date)


class RmOfferVersion(Base):
    """How many times what offers read of one part of the read model changed (``versions.py``):
    ``specialty:<code>``, ``segment:<id>``, ``fx``, ``all``. Counted in the transaction that
    changed it; the offer's cache key holds the ones its segment depends on."""

    __tablename__ = "rm_offer_versions"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))


# -- the consumer's positions ----------------------------------------------------------------

class FeedCursor(Base):
    """The last ``seq`` applied from one pillar's feed, written in the transaction that applied it."""

    __tablename__ = "feed_cursors"

    feed: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    # The last time the consumer read this feed to its end: everything committed before is applied.
    drained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Rebuild(Base):
    """A rebuild of the read model from the pillars' APIs: asked by staff, or on its own when empty."""

    __tablename__ = "rebuilds"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(40))  # requested, empty
    requested_by: Mapped[str | None] = mapped_column(sa.String(64))
    counts: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    positions: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- reactions -------------------------------------------------------------------------------

class SegmentReadiness(Base):
    """The readiness last seen for each segment, so a change (and only a change) is reacted to."""

    __tablename__ = "segment_readiness"

    segment_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    ready: Mapped[bool] = mapped_column(sa.Boolean)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Reaction(Base):
    """What the coordinator did on its own, why, and from which event. ``key`` (event id and
    what was done) makes a redelivered event record nothing new."""

    __tablename__ = "reactions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    segment_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    stakeholder_id: Mapped[str | None] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.String(1000))
    source: Mapped[str] = mapped_column(sa.String(40))  # the feed, or "clock" for a re-check on time
    seq: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    event_id: Mapped[str | None] = mapped_column(sa.String(40))
    event_type: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)  # pending, done, failed
    attempts: Mapped[int] = mapped_column(sa.Integer)
    outcome: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


add_kit_tables(Base.metadata)


# -- actions ---------------------------------------------------------------------------------
# Durable cross-pillar actions (services/dmo/actions.py): an action and each of its steps are
# written before they run, so a process that dies mid-way leaves a row saying where it was.


class Action(Base):
    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20))  # running, succeeded, failed, compensated
    phase: Mapped[str] = mapped_column(sa.String(20))  # forward, compensating, done
    input: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Facts earlier steps learnt (the stakeholder's id...): later steps' requests are built
    # from input and context only, so a retried request is byte for byte the first one.
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    reasons: Mapped[list[str]] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who runs it now, until when (a runner that dies lets its lease lapse), and when a
    # step that found a pillar unavailable is tried again.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(60))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retries: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.Index("ix_actions_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_actions_kind_status", "kind", "status"),
    )


class ActionStep(Base):
    __tablename__ = "action_steps"

    action_id: Mapped[str] = mapped_column(sa.ForeignKey("actions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    # pending, running, succeeded, failed, skipped, compensated
    status: Mapped[str] = mapped_column(sa.String(20))
    idempotency_key: Mapped[str] = mapped_column(sa.String(120))
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compensated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- scorecard ------------------------------------------------------------------------------------

class ScorecardSnapshot(Base):
    """The scorecard's attribute figures as the first scorecard of a UTC day computed them: what
    trends between assessments are measured against (services/dmo/scorecard_snapshots.py)."""

    __tablename__ = "scorecard_snapshots"

    taken_on: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    figures: Mapped[dict[str, float | None]] = mapped_column(sa.JSON)  # attribute name → headline figure
