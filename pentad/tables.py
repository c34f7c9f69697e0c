"""Tables of the kit that every service database carries (added by its first migration)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pentad.db import UTCDateTime, make_metadata

KIT_METADATA = make_metadata()

outbox_events = sa.Table(
    "outbox_events",
    KIT_METADATA,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sqlite_autoincrement=True,
)

# A creating POST's first answer, replayed to retries with the same Idempotency-Key.
idempotency_records = sa.Table(
    "idempotency_records",
    KIT_METADATA,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("idem_key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)


# Opt-in: only services with periodic sweeps carry it (``pentad.sweeps``). One row per
# (subject, event, date) a sweep has acted on; the primary key is what makes it act once.
SWEEP_METADATA = make_metadata()

sweep_marks = sa.Table(
    "sweep_marks",
    SWEEP_METADATA,
    sa.Column("subject", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(100), primary_key=True),
    sa.Column("on_date", sa.Date, primary_key=True),
    sa.Column("marked_at", UTCDateTime(), nullable=False),
)


def add_kit_tables(metadata: sa.MetaData) -> None:
    """Copy the kit's tables into a service's metadata, so Alembic sees one whole schema."""
    for table in KIT_METADATA.tables.values():
        table.to_metadata(metadata)


def add_sweep_tables(metadata: sa.MetaData) -> None:
    """Copy ``sweep_marks`` into the metadata of a service that runs sweeps."""
    sweep_marks.to_metadata(metadata)


def create_sweep_tables_v1() -> None:
    """``sweep_marks`` as of v1, frozen here: a service's migration calls it when it adopts sweeps."""
    from alembic import op

    op.create_table(
        "sweep_marks",
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "event", "on_date", name="pk_sweep_marks"),
    )


def create_kit_tables_v1() -> None:
    """The kit's tables as of v1, frozen here: each service's first migration calls it.

    A later change to the kit's tables gets its own ``..._v2`` step and a migration in
    every service, like any other schema change.
    """
    from alembic import op

    op.create_table(
        "outbox_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
        sa.UniqueConstraint("id", name="uq_outbox_events_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "idempotency_records",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("idem_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "idem_key", name="pk_idempotency_records"),
    )


def versioned_columns_v1() -> list[sa.Column[Any]]:
    """The columns of ``pentad.orm.Versioned`` as migrations create them (frozen like the above)."""
    return [
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]
