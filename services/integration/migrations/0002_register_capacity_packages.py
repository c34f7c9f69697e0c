"""Stakeholder register, capacity, packages and the FX table.

Revision ID: int_0002
Revises: int_0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from pentad.tables import versioned_columns_v1

revision = "int_0002"
down_revision = "int_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stakeholders",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("city", sa.String(120), nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("specialties", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_stakeholders"),
    )
    op.create_index("ix_stakeholders_kind", "stakeholders", ["kind"])
    op.create_index("ix_stakeholders_status", "stakeholders", ["status"])
    op.create_table(
        "stakeholder_specialties",
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(["stakeholder_id"], ["stakeholders.id"], ondelete="CASCADE",
                                name="fk_stakeholder_specialties_stakeholder_id_stakeholders"),
        sa.PrimaryKeyConstraint("stakeholder_id", "specialty", name="pk_stakeholder_specialties"),
    )
    op.create_index("ix_stakeholder_specialties_specialty", "stakeholder_specialties", ["specialty"])
    op.create_table(
        "capacity",
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("slots_total", sa.Integer, nullable=False),
        sa.Column("slots_available", sa.Integer, nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["stakeholder_id"], ["stakeholders.id"], ondelete="CASCADE",
                                name="fk_capacity_stakeholder_id_stakeholders"),
        sa.PrimaryKeyConstraint("stakeholder_id", "specialty", "date", name="pk_capacity"),
    )
    op.create_index("ix_capacity_specialty_date", "capacity", ["specialty", "date"])
    op.create_table(
        "packages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("specialty", sa.String(50), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_packages"),
    )
    op.create_index("ix_packages_specialty", "packages", ["specialty"])
    op.create_index("ix_packages_status", "packages", ["status"])
    op.create_table(
        "package_stakeholders",
        sa.Column("package_id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE",
                                name="fk_package_stakeholders_package_id_packages"),
        sa.PrimaryKeyConstraint("package_id", "stakeholder_id", name="pk_package_stakeholders"),
    )
    op.create_index("ix_package_stakeholders_stakeholder_id", "package_stakeholders", ["stakeholder_id"])
    fx = op.create_table(
        "fx_table",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("rates", sa.JSON, nullable=False),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_fx_table"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(fx, [{"id": 1, "base": "EUR", "rates": {}, "version": 1, "created_at": now, "updated_at": now}])


def downgrade() -> None:
    for table in ("fx_table", "package_stakeholders", "packages", "capacity", "stakeholder_specialties",
                  "stakeholders"):
        op.drop_table(table)
