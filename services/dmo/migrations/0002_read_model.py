"""The read model (segments, stakeholders, capacity, packages, FX, accreditations), the
feed cursors, the readiness last seen per segment and the reactions.

Revision ID: dmo_0002
Revises: dmo_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "dmo_0002"
down_revision = "dmo_0001"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "rm_segments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("specialties", sa.JSON, nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("min_accredited_providers", sa.Integer, nullable=False),
        sa.Column("min_weekly_capacity", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_segments"),
    )
    op.create_index("ix_rm_segments_status", "rm_segments", ["status"])
    op.create_table(
        "rm_stakeholders",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("specialties", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_stakeholders"),
    )
    op.create_index("ix_rm_stakeholders_name_id", "rm_stakeholders", ["name", "id"])
    op.create_table(
        "rm_stakeholder_languages",
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.PrimaryKeyConstraint("stakeholder_id", "language", name="pk_rm_stakeholder_languages"),
    )
    op.create_table(
        "rm_stakeholder_specialties",
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("specialty", "stakeholder_id", name="pk_rm_stakeholder_specialties"),
    )
    op.create_index("ix_rm_stakeholder_specialties_stakeholder_id", "rm_stakeholder_specialties",
                    ["stakeholder_id"])
    op.create_table(
        "rm_capacity",
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("slots_available", sa.Integer, nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stakeholder_id", "specialty", "date", name="pk_rm_capacity"),
    )
    op.create_table(
        "rm_packages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_packages"),
    )
    op.create_table(
        "rm_package_stakeholders",
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("package_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("stakeholder_id", "package_id", name="pk_rm_package_stakeholders"),
    )
    op.create_index("ix_rm_package_stakeholders_package_id", "rm_package_stakeholders", ["package_id"])
    op.create_table(
        "rm_fx",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("rates", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_fx"),
    )
    op.create_table(
        "rm_accreditations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("scheme_id", sa.String(40), nullable=False),
        sa.Column("scheme_code", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_accreditations"),
    )
    op.create_index("ix_rm_accreditations_stakeholder_id", "rm_accreditations", ["stakeholder_id"])
    op.create_table(
        "feed_cursors",
        sa.Column("feed", sa.String(40), nullable=False),
        sa.Column("seq", _SEQ, nullable=False),
        sa.Column("drained_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("feed", name="pk_feed_cursors"),
    )
    op.create_table(
        "rebuilds",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("positions", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rebuilds"),
    )
    op.create_table(
        "segment_readiness",
        sa.Column("segment_id", sa.String(40), nullable=False),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", name="pk_segment_readiness"),
    )
    op.create_table(
        "reactions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("segment_id", sa.String(40), nullable=True),
        sa.Column("stakeholder_id", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("seq", _SEQ, nullable=True),
        sa.Column("event_id", sa.String(40), nullable=True),
        sa.Column("event_type", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reactions"),
        sa.UniqueConstraint("key", name="uq_reactions_key"),
    )
    op.create_index("ix_reactions_segment_id", "reactions", ["segment_id"])
    op.create_index("ix_reactions_status", "reactions", ["status"])
    op.create_index("ix_reactions_created_at", "reactions", ["created_at"])


def downgrade() -> None:
    for table in ("reactions", "segment_readiness", "rebuilds", "feed_cursors", "rm_accreditations", "rm_fx",
                  "rm_package_stakeholders", "rm_packages", "rm_capacity", "rm_stakeholder_specialties",
                  "rm_stakeholder_languages", "rm_stakeholders", "rm_segments"):
        op.drop_table(table)
