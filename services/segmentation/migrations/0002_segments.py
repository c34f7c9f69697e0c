"""Specialty vocabulary (seeded) and segments.

Revision ID: seg_0002
Revises: seg_0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from pentad.tables import versioned_columns_v1

revision = "seg_0002"
down_revision = "seg_0001"
branch_labels = None
depends_on = None

# The controlled vocabulary the destination starts with; staff extend it with POST /specialties.
SPECIALTIES = [
    ("orthopaedics", "Orthopaedics", "medical",
     ["hip replacement", "knee replacement", "shoulder arthroscopy", "spinal fusion", "ACL reconstruction"]),
    ("cardiology", "Cardiology and cardiac surgery", "medical",
     ["coronary angioplasty", "coronary artery bypass", "valve replacement", "ablation"]),
    ("oncology", "Oncology", "medical",
     ["chemotherapy", "radiotherapy", "proton therapy", "oncological surgery", "second opinion"]),
    ("fertility_ivf", "Fertility and IVF", "medical",
     ["IVF", "ICSI", "egg donation", "embryo freezing", "pre-implantation genetic testing"]),
    ("bariatric", "Bariatric surgery", "medical", ["gastric sleeve", "gastric bypass", "gastric balloon"]),
    ("cosmetic_plastic", "Cosmetic and plastic surgery", "medical",
     ["rhinoplasty", "breast augmentation", "liposuction", "abdominoplasty", "blepharoplasty"]),
    ("ophthalmology", "Ophthalmology", "medical",
     ["LASIK", "cataract surgery", "refractive lens exchange", "corneal cross-linking"]),
    ("checkups", "Health check-ups", "medical",
     ["executive check-up", "cardiac screening", "cancer screening", "sports medical"]),
    ("rehabilitation", "Rehabilitation", "medical",
     ["post-operative rehabilitation", "cardiac rehabilitation", "neurological rehabilitation",
      "physiotherapy"]),
    ("dental_implantology", "Dental implantology", "dental",
     ["single implant", "All-on-4", "All-on-6", "bone grafting", "sinus lift"]),
    ("cosmetic_dentistry", "Cosmetic dentistry", "dental", ["veneers", "crowns", "whitening", "smile design"]),
    ("spa_therapies", "Spa therapies", "spa",
     ["thalassotherapy", "balneotherapy", "hydrotherapy", "mud therapy", "inhalation therapy"]),
    ("wellness_programmes", "Wellness programmes", "wellness",
     ["detox", "stress management", "weight management", "sleep programme", "medical fasting"]),
    ("sports_medicine", "Sports medicine", "sports",
     ["sports injury treatment", "performance testing", "return-to-play rehabilitation"]),
    ("nutrition_programmes", "Nutrition and culinary health", "culinary",
     ["clinical nutrition plans", "healthy-cooking retreats", "diabetic diet programmes"]),
    ("dialysis_travel", "Dialysis for travellers", "accessible",
     ["haemodialysis sessions", "peritoneal dialysis support"]),
    ("accessible_stays", "Accessible stays", "accessible",
     ["wheelchair-accessible rooms and transfers", "carer-accompanied stays"]),
    ("assisted_living", "Assisted living and long-term care", "assisted_residential",
     ["long-term residential care", "dementia care", "respite care", "post-acute convalescence"]),
]


def upgrade() -> None:
    specialties = op.create_table(
        "specialties",
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("family", sa.String(30), nullable=False),
        sa.Column("procedures", sa.JSON, nullable=False),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("code", name="pk_specialties"),
    )
    op.create_index("ix_specialties_family", "specialties", ["family"])
    op.create_table(
        "segments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("family", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("specialties", sa.JSON, nullable=False),
        sa.Column("source_markets", sa.JSON, nullable=False),
        sa.Column("payer_types", sa.JSON, nullable=False),
        sa.Column("motivation", sa.String(20), nullable=False),
        sa.Column("price_band", sa.JSON, nullable=True),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("demand", sa.JSON, nullable=True),
        sa.Column("threshold", sa.JSON, nullable=False),
        *versioned_columns_v1(),
        sa.PrimaryKeyConstraint("id", name="pk_segments"),
    )
    op.create_index("ix_segments_family", "segments", ["family"])
    op.create_index("ix_segments_status", "segments", ["status"])
    op.create_table(
        "segment_tags",
        sa.Column("segment_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], ondelete="CASCADE",
                                name="fk_segment_tags_segment_id_segments"),
        sa.PrimaryKeyConstraint("segment_id", "kind", "value", name="pk_segment_tags"),
    )
    op.create_index("ix_segment_tags_kind_value", "segment_tags", ["kind", "value"])
    now = datetime.now(UTC)
    op.bulk_insert(specialties, [
        {"code": c, "name": n, "family": f, "procedures": p, "version": 1, "created_at": now, "updated_at": now}
        for c, n, f, p in SPECIALTIES
    ])


def downgrade() -> None:
    op.drop_table("segment_tags")
    op.drop_table("segments")
    op.drop_table("specialties")
