"""The kit's tables: outbox and idempotency records.

Revision ID: adm_0001
Revises:
"""

from pentad.tables import create_kit_tables_v1

revision = "adm_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables_v1()


def downgrade() -> None:
    raise NotImplementedError("the first migration is not reversed")
