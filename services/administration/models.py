"""Tables of the Administration service: schemes, accreditations, memberships, complaints, audit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.orm import Versioned
from pentad.tables import add_kit_tables, add_sweep_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


class Scheme(Versioned, Base):
    __tablename__ = "schemes"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    issuing_body: Mapped[str] = mapped_column(sa.String(200))
    validity_years: Mapped[int] = mapped_column(sa.Integer)
    covers: Mapped[str] = mapped_column(sa.String(1000))


class Accreditation(Versioned, Base):
    """``state`` is the stored decision; the status a reader sees also depends on the date
    (``lifecycle.accreditation_status``)."""

    __tablename__ = "accreditations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    scheme_id: Mapped[str] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(sa.String(100))
    issued_on: Mapped[date] = mapped_column(sa.Date)
    expires_on: Mapped[date] = mapped_column(sa.Date, index=True)
    evidence_url: Mapped[str | None] = mapped_column(sa.String(2000))
    state: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        sa.UniqueConstraint("stakeholder_id", "scheme_id", "certificate_no",
                            name="uq_accreditations_stakeholder_scheme_certificate"),
        sa.Index("ix_accreditations_state_expires_on", "state", "expires_on"),
    )


class Membership(Versioned, Base):
    __tablename__ = "memberships"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    tier: Mapped[str] = mapped_column(sa.String(20))
    dues: Mapped[dict[str, str]] = mapped_column(sa.JSON)  # money as decimal strings, never float
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Complaint(Versioned, Base):
    __tablename__ = "complaints"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    enquiry_id: Mapped[str | None] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(20))
    severity: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(4000))
    status: Mapped[str] = mapped_column(sa.String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(sa.String(4000))
    filed_by: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_complaints_status_due_at", "status", "due_at"),)


class AuditEntry(Base):
    """Append-only: the database itself refuses UPDATE and DELETE (migration adm_0004)."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(sa.String(100), index=True)
    actor_role: Mapped[str] = mapped_column(sa.String(20))
    actor_stakeholder_id: Mapped[str | None] = mapped_column(sa.String(40))
    entity: Mapped[str] = mapped_column(sa.String(30))
    entity_id: Mapped[str] = mapped_column(sa.String(40))
    action: Mapped[str] = mapped_column(sa.String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    request_id: Mapped[str] = mapped_column(sa.String(140))

    __table_args__ = (sa.Index("ix_audit_entries_entity_entity_id", "entity", "entity_id"),
                      {"sqlite_autoincrement": True})


add_kit_tables(Base.metadata)
add_sweep_tables(Base.metadata)
