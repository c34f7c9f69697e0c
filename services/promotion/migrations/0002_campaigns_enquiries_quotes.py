"""Campaigns and their spend ledger, enquiries with their funnel, assignments, quotes, sweep marks.

Revision ID: pro_0002
Revises: pro_0001
"""

import sqlalchemy as sa
from alembic import op

from pentad.tables import create_sweep_tables_v1, versioned_columns_v1

revision = "pro_0002"
down_revision = "pro_0001"
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(20, 4)
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("segment_ids", sa.JSON, nullable=False),
        sa.Column("source_markets", sa.JSON, nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("budget", sa.JSON, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("tracking_code", sa.String(40), nullable=False),
        sa.Column("activated_by_action", sa.String(80), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("tracking_code", name="uq_campaigns_tracking_code"),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_spend",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("spent_on", sa.Date, nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("over_budget", sa.Boolean, nullable=False),
        sa.Column("override_reason", sa.String(500), nullable=True),
        sa.Column("recorded_by", sa.String(80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name="fk_campaign_spend_campaign_id_campaigns"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_spend"),
    )
    op.create_index("ix_campaign_spend_campaign_id_spent_on", "campaign_spend", ["campaign_id", "spent_on"])
    op.create_table(
        "enquiries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("facilitator_id", sa.String(40), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("specialty", sa.String(60), nullable=False),
        sa.Column("source_market", sa.String(2), nullable=False),
        sa.Column("segment_id", sa.String(40), nullable=True),
        sa.Column("segment_matched", sa.Boolean, nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=True),
        sa.Column("tracking_code", sa.String(40), nullable=True),
        sa.Column("preferred_from", sa.Date, nullable=False),
        sa.Column("preferred_to", sa.Date, nullable=False),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("booked_quote_id", sa.String(40), nullable=True),
        sa.Column("contact", sa.JSON, nullable=True),
        sa.Column("consent", sa.JSON, nullable=False),
        sa.Column("contact_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_enquiries"),
    )
    for column in ("facilitator_id", "segment_id", "campaign_id", "status", "closed_at"):
        op.create_index(f"ix_enquiries_{column}", "enquiries", [column])
    op.create_index("ix_enquiries_status_created_at", "enquiries", ["status", "created_at"])
    op.create_table(
        "enquiry_transitions",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("enquiry_id", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], ondelete="CASCADE",
                                name="fk_enquiry_transitions_enquiry_id_enquiries"),
        sa.PrimaryKeyConstraint("id", name="pk_enquiry_transitions"),
    )
    op.create_index("ix_enquiry_transitions_enquiry_id", "enquiry_transitions", ["enquiry_id"])
    op.create_table(
        "assignments",
        sa.Column("enquiry_id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], ondelete="CASCADE",
                                name="fk_assignments_enquiry_id_enquiries"),
        sa.PrimaryKeyConstraint("enquiry_id", "stakeholder_id", name="pk_assignments"),
    )
    op.create_index("ix_assignments_stakeholder_id_status", "assignments", ["stakeholder_id", "status"])
    op.create_index("ix_assignments_status_respond_by", "assignments", ["status", "respond_by"])
    op.create_table(
        "quotes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("enquiry_id", sa.String(40), nullable=False),
        sa.Column("stakeholder_id", sa.String(40), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("total_amount", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("package_id", sa.String(40), nullable=True),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        *versioned_columns_v1(),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], ondelete="CASCADE",
                                name="fk_quotes_enquiry_id_enquiries"),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
    )
    op.create_index("ix_quotes_enquiry_id", "quotes", ["enquiry_id"])
    op.create_index("ix_quotes_stakeholder_id", "quotes", ["stakeholder_id"])
    op.create_index("uq_quotes_one_accepted", "quotes", ["enquiry_id"], unique=True,
                    postgresql_where=sa.text("status = 'accepted'"), sqlite_where=sa.text("status = 'accepted'"))
    create_sweep_tables_v1()


def downgrade() -> None:
    for table in ("sweep_marks", "quotes", "assignments", "enquiry_transitions", "enquiries", "campaign_spend",
                  "campaigns"):
        op.drop_table(table)
