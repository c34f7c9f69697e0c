"""Durable actions and their steps.

Revision ID: dmo_0003
Revises: dmo_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "dmo_0003"
down_revision = "dmo_0002"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("input", sa.JSON, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _at("created_at", False),
        _at("updated_at", False),
        _at("finished_at"),
        sa.Column("lease_owner", sa.String(60), nullable=True),
        _at("lease_expires_at"),
        _at("next_attempt_at", False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
    )
    op.create_index("ix_actions_status_next_attempt_at", "actions", ["status", "next_attempt_at"])
    op.create_index("ix_actions_kind_status", "actions", ["kind", "status"])
    op.create_table(
        "action_steps",
        sa.Column("action_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        _at("started_at"),
        _at("finished_at"),
        _at("compensated_at"),
        sa.PrimaryKeyConstraint("action_id", "position", name="pk_action_steps"),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], name="fk_action_steps_action_id_actions"),
    )


def downgrade() -> None:
    op.drop_table("action_steps")
    op.drop_index("ix_actions_kind_status", table_name="actions")
    op.drop_index("ix_actions_status_next_attempt_at", table_name="actions")
    op.drop_table("actions")
