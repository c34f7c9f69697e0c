"""The audit trail, append-only in the database itself.

Triggers refuse every UPDATE and DELETE of ``audit_entries`` (and TRUNCATE on PostgreSQL),
whoever sends it, so no code path, present or future, can rewrite history. Only a schema
change (dropping the triggers) could, and that is a migration anyone can read.

Revision ID: adm_0004
Revises: adm_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "adm_0004"
down_revision = "adm_0003"
branch_labels = None
depends_on = None

_PG = [
    """CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
               USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
       FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()""",
    """CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
       FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()""",
]
_SQLITE = [
    f"""CREATE TRIGGER audit_entries_no_{op_.lower()} BEFORE {op_} ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: {op_} refused'); END"""
    for op_ in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("actor_stakeholder_id", sa.String(40), nullable=True),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("request_id", sa.String(140), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
        sa.UniqueConstraint("id", name="uq_audit_entries_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_actor", "audit_entries", ["actor"])
    op.create_index("ix_audit_entries_entity_entity_id", "audit_entries", ["entity", "entity_id"])
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_entries")  # drops its triggers with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_entries_append_only()")
