"""Schemes, accreditations, memberships, complaints, and the sweeps' marks.

Revision ID: adm_0002
Revises: adm_0001
"""

import sqlalchemy as sa
from alembic import op

from pentad.tables import create_sweep_tables_v1, versioned_columns_v1

revision = "adm_0002"
down_revision = "adm_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schemes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuing_body", sa.String(200), nullable=False),
        sa.Column("validity_years", sa.Integer, nullable=False),
        sa.Column("covers", sa.String(1000), nullable=False),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_schemes"),
        sa.UniqueConstraint("code", name="uq_schemes_code"),
    )
    op.create_table(
        "accreditations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("scheme_id", sa.String(40), nullable=False),
        sa.Column("certificate_no", sa.String(100), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("evidence_url", sa.String(2000), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_accreditations"),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name="fk_accreditations_scheme_id_schemes"),
        sa.UniqueConstraint("stakeholder_id", "scheme_id", "certificate_no",
                            name="uq_accreditations_stakeholder_scheme_certificate"),
    )
    op.create_index("ix_accreditations_stakeholder_id", "accreditations", ["stakeholder_id"])
    op.create_index("ix_accreditations_scheme_id", "accreditations", ["scheme_id"])
    op.create_index("ix_accreditations_expires_on", "accreditations", ["expires_on"])
    op.create_index("ix_accreditations_state_expires_on", "accreditations", ["state", "expires_on"])
    op.create_table(
        "memberships",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("dues", sa.JSON, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_stakeholder_id", "memberships", ["stakeholder_id"])
    op.create_index("ix_memberships_period_end", "memberships", ["period_end"])
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("enquiry_id", sa.String(40), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("description", sa.String(4000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.String(4000), nullable=True),
        sa.Column("filed_by", sa.String(40), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
    )
    op.create_index("ix_complaints_stakeholder_id", "complaints", ["stakeholder_id"])
    op.create_index("ix_complaints_filed_by", "complaints", ["filed_by"])
    op.create_index("ix_complaints_status_due_at", "complaints", ["status", "due_at"])
    create_sweep_tables_v1()


def downgrade() -> None:
    for table in ("sweep_marks", "complaints", "memberships", "accreditations", "schemes"):
        op.drop_table(table)
