"""A provider's change of its specialties or kind waits for staff as a proposal.

Only nullable columns are added, so no row is rewritten or lost and every existing
stakeholder has no proposal. The downgrade drops the columns again (pending proposals and
staff's last decisions go with them: they never counted for anything).

Revision ID: int_0004
Revises: int_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "int_0004"
down_revision = "int_0003"
branch_labels = None
depends_on = None

_COLUMNS = ("proposed_specialties", "proposed_kind", "proposed_by", "proposed_at", "proposal_decision")


def upgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35): a batch
    # copy of the table would be needless work and, with foreign keys on, would cascade.
    op.add_column("stakeholders", sa.Column("proposed_specialties", sa.JSON, nullable=True))
    op.add_column("stakeholders", sa.Column("proposed_kind", sa.String(20), nullable=True))
    op.add_column("stakeholders", sa.Column("proposed_by", sa.String(64), nullable=True))
    op.add_column("stakeholders", sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stakeholders", sa.Column("proposal_decision", sa.JSON, nullable=True))
    op.create_index("ix_stakeholders_proposed_at", "stakeholders", ["proposed_at"])


def downgrade() -> None:
    op.drop_index("ix_stakeholders_proposed_at", table_name="stakeholders")
    for column in reversed(_COLUMNS):
        op.drop_column("stakeholders", column)
