"""Tables of the Segmentation service: the specialty vocabulary and the segments."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pentad.db import make_metadata
from pentad.orm import Versioned
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


class Specialty(Versioned, Base):
    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    family: Mapped[str] = mapped_column(sa.String(30), index=True)
    procedures: Mapped[list[str]] = mapped_column(sa.JSON)


class Segment(Versioned, Base):
    __tablename__ = "segments"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    family: Mapped[str] = mapped_column(sa.String(30), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    specialties: Mapped[list[str]] = mapped_column(sa.JSON)
    source_markets: Mapped[list[str]] = mapped_column(sa.JSON)
    payer_types: Mapped[list[str]] = mapped_column(sa.JSON)
    motivation: Mapped[str] = mapped_column(sa.String(20))
    price_band: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    languages: Mapped[list[str]] = mapped_column(sa.JSON)
    demand: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    threshold: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Only a change of the tagged fields needs the tags (service.update loads them then);
    # loading them with every segment read cost ~7 ORM objects a segment (issue 13).
    tags: Mapped[list[SegmentTag]] = relationship(cascade="all, delete-orphan", lazy="raise")


class SegmentTag(Base):
    """One row per (segment, kind, value) so list filters are indexed lookups on any database."""

    __tablename__ = "segment_tags"

    segment_id: Mapped[str] = mapped_column(sa.ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(50), primary_key=True)

    __table_args__ = (sa.Index("ix_segment_tags_kind_value", "kind", "value"),)


add_kit_tables(Base.metadata)
