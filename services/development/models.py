"""Tables of the Development service: initiatives and assessments (snapshots of gaps)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pentad.db import UTCDateTime, make_metadata
from pentad.orm import Versioned
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


class Initiative(Versioned, Base):
    __tablename__ = "initiatives"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    segment_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    gap: Mapped[str] = mapped_column(sa.String(40))
    owner: Mapped[str] = mapped_column(sa.String(200))
    budget: Mapped[dict[str, str]] = mapped_column(sa.JSON)  # money as the contract writes it: decimal strings
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)  # [{title, due_on, done}]
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.String(500))


class Assessment(Base):
    """A dated snapshot of gaps; never changed once recorded."""

    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    as_of: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    points: Mapped[list[AssessmentPoint]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                         order_by="AssessmentPoint.segment_id")


class AssessmentPoint(Base):
    """One segment's gap in one assessment. ``as_of`` and ``source`` are copied from the
    assessment so a segment's history is one indexed range read, already in plotting order."""

    __tablename__ = "assessment_points"

    assessment_id: Mapped[str] = mapped_column(sa.ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True)
    segment_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    as_of: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(20))
    segment_name: Mapped[str] = mapped_column(sa.String(200))
    met: Mapped[bool] = mapped_column(sa.Boolean)
    threshold: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    current: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    shortfalls: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    __table_args__ = (sa.Index("ix_assessment_points_history", "segment_id", "as_of", "assessment_id"),)


add_kit_tables(Base.metadata)
