"""Indexes for the offer at national scale (10,000 stakeholders, 1,000,000 capacity rows).

- ``rm_stakeholder_languages (language, stakeholder_id)``: the offer's page meets the
  segment's specialties with its languages first (~900 and ~2,500 rows, hashed), so it
  probes ~240 stakeholders, not ~900 (page 8.1 -> 5.0 ms, ``bench/offer.py``'s data).
- ``rm_capacity (stakeholder_id, specialty, date) INCLUDE (confirmed_at, slots_available)``
  on PostgreSQL: the week sums and the page's fresh-capacity probes read the index only, not
  ~3,000 heap rows (weekly 5.3 -> 3.3 ms). SQLite has no INCLUDE: there it is the primary
  key's columns again (only tests and development run on SQLite).

Revision ID: dmo_0005
Revises: dmo_0004
"""

from alembic import op

revision = "dmo_0005"
down_revision = "dmo_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rm_stakeholder_languages_language_stakeholder_id", "rm_stakeholder_languages",
                    ["language", "stakeholder_id"])
    op.create_index("ix_rm_capacity_covering", "rm_capacity", ["stakeholder_id", "specialty", "date"],
                    postgresql_include=["confirmed_at", "slots_available"])


def downgrade() -> None:
    op.drop_index("ix_rm_capacity_covering", table_name="rm_capacity")
    op.drop_index("ix_rm_stakeholder_languages_language_stakeholder_id", table_name="rm_stakeholder_languages")
