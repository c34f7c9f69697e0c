"""Versions of what offers read, per specialty, segment, FX table (``services/dmo/versions.py``):
the offer's answer cache then holds each answer until something its segment reads changes,
not until any event at all is applied.

No rows to fill: a key never counted reads as absent, and the cache lives in the process
(a new process starts empty).

Revision ID: dmo_0006
Revises: dmo_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "dmo_0006"
down_revision = "dmo_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_offer_versions",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("version", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rm_offer_versions"),
    )


def downgrade() -> None:
    op.drop_table("rm_offer_versions")
