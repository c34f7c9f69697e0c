"""Tables of the DMO coordinator service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


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
