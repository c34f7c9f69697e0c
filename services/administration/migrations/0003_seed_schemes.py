"""The accreditation schemes a health-tourism destination meets first.

Their ids are stable (``sch_jci``...) so that demos and other pillars can name them;
staff add more through ``POST /schemes``.

Revision ID: adm_0003
Revises: adm_0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "adm_0003"
down_revision = "adm_0002"
branch_labels = None
depends_on = None

SCHEMES = [
    ("sch_jci", "jci", "JCI Accreditation", "Joint Commission International", 3,
     "Hospitals, ambulatory care and clinical laboratories: patient safety and quality of care "
     "against JCI's international standards."),
    ("sch_temos", "temos", "Temos Quality in International Patient Care", "Temos International", 3,
     "Hospitals, clinics and dental practices treating international patients: the patient journey, "
     "interpreting, travel coordination and aftercare."),
    ("sch_gha", "gha", "Global Healthcare Accreditation", "Global Healthcare Accreditation (GHA)", 3,
     "Medical travel programmes of hospitals and clinics: the international patient's experience "
     "from first enquiry to follow-up."),
    ("sch_iso22525", "iso_22525", "ISO 22525 Medical tourism services",
     "Accredited ISO certification bodies", 3,
     "Requirements for medical tourism services: healthcare providers, facilitators and "
     "accommodation along the patient's stay."),
    ("sch_national_licence", "national_licence", "National health-ministry licence",
     "The national ministry of health", 5,
     "The legal licence to provide health care in the country; every provider needs one."),
]

_schemes = sa.table("schemes", sa.column("id"), sa.column("code"), sa.column("name"), sa.column("issuing_body"),
                    sa.column("validity_years"), sa.column("covers"), sa.column("version"),
                    sa.column("created_at", sa.DateTime(timezone=True)),
                    sa.column("updated_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(_schemes, [
        {"id": id_, "code": code, "name": name, "issuing_body": body, "validity_years": years, "covers": covers,
         "version": 1, "created_at": now, "updated_at": now}
        for id_, code, name, body, years, covers in SCHEMES])


def downgrade() -> None:
    op.execute(_schemes.delete().where(_schemes.c.id.in_([s[0] for s in SCHEMES])))
