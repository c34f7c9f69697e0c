"""Initiatives, and assessments with one point per segment.

Revision ID: dev_0002
Revises: dev_0001
"""

import sqlalchemy as sa
from alembic import op

from pentad.tables import versioned_columns_v1

revision = "dev_0002"
down_revision = "dev_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("segment_id", sa.String(40), nullable=False),
        sa.Column("gap", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("budget", sa.JSON, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_initiatives"),
    )
    op.create_index("ix_initiatives_segment_id", "initiatives", ["segment_id"])
    op.create_index("ix_initiatives_status", "initiatives", ["status"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_table(
        "assessment_points",
        sa.Column("assessment_id", sa.String(40), nullable=False),
        sa.Column("segment_id", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("segment_name", sa.String(200), nullable=False),
        sa.Column("met", sa.Boolean, nullable=False),
        sa.Column("threshold", sa.JSON, nullable=False),
        sa.Column("current", sa.JSON, nullable=False),
        sa.Column("shortfalls", sa.JSON, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=True),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"], ondelete="CASCADE",
                                name="fk_assessment_points_assessment_id_assessments"),
        sa.PrimaryKeyConstraint("assessment_id", "segment_id", name="pk_assessment_points"),
    )
    op.create_index("ix_assessment_points_history", "assessment_points", ["segment_id", "as_of", "assessment_id"])


def downgrade() -> None:
    op.drop_table("assessment_points")
    op.drop_table("assessments")
    op.drop_table("initiatives")
