"""Tables of the Integration service: stakeholders, capacity, packages, the FX table."""

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


class Stakeholder(Versioned, Base):
    __tablename__ = "stakeholders"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    country: Mapped[str] = mapped_column(sa.String(2))
    city: Mapped[str] = mapped_column(sa.String(120))
    languages: Mapped[list[str]] = mapped_column(sa.JSON)
    specialties: Mapped[list[str]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    # A provider's own change of specialties or kind waits here for staff (proposals.py);
    # everything that counts reads the approved columns above. Pending iff proposed_at is set.
    proposed_specialties: Mapped[list[str] | None] = mapped_column(sa.JSON)
    proposed_kind: Mapped[str | None] = mapped_column(sa.String(20))
    proposed_by: Mapped[str | None] = mapped_column(sa.String(64))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    proposal_decision: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    offered: Mapped[list[StakeholderSpecialty]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class StakeholderSpecialty(Base):
    """One row per specialty a stakeholder offers: coverage queries are indexed joins."""

    __tablename__ = "stakeholder_specialties"

    stakeholder_id: Mapped[str] = mapped_column(sa.ForeignKey("stakeholders.id", ondelete="CASCADE"),
                                                primary_key=True)
    specialty: Mapped[str] = mapped_column(sa.String(50), primary_key=True, index=True)


class Capacity(Base):
    """Slots a provider posts for one specialty on one day; re-posting re-confirms it."""

    __tablename__ = "capacity"

    stakeholder_id: Mapped[str] = mapped_column(sa.ForeignKey("stakeholders.id", ondelete="CASCADE"),
                                                primary_key=True)
    specialty: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    slots_total: Mapped[int] = mapped_column(sa.Integer)
    slots_available: Mapped[int] = mapped_column(sa.Integer)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_capacity_specialty_date", "specialty", "date"),)


class Package(Versioned, Base):
    __tablename__ = "packages"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    specialty: Mapped[str] = mapped_column(sa.String(50), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    components: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.String(500))
    parties: Mapped[list[PackageStakeholder]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class PackageStakeholder(Base):
    """Which stakeholders a package depends on, to withdraw it when one becomes inactive."""

    __tablename__ = "package_stakeholders"

    package_id: Mapped[str] = mapped_column(sa.ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class FxTableRecord(Versioned, Base):
    """The DMO's FX table: one row. Rates are decimal strings, so no float ever touches money."""

    __tablename__ = "fx_table"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    base: Mapped[str] = mapped_column(sa.String(3))
    rates: Mapped[dict[str, str]] = mapped_column(sa.JSON)


add_kit_tables(Base.metadata)
