"""Scorecard snapshots: one a UTC day, what the attributes' trends are measured against.

Revision ID: dmo_0004
Revises: dmo_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "dmo_0004"
down_revision = "dmo_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorecard_snapshots",
        sa.Column("taken_on", sa.Date, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("taken_on", name="pk_scorecard_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("scorecard_snapshots")
