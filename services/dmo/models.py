"""Tables of the DMO coordinator service."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


add_kit_tables(Base.metadata)


# -- scorecard ------------------------------------------------------------------------------------

class ScorecardSnapshot(Base):
    """The scorecard's attribute figures as the first scorecard of a UTC day computed them: what
    trends between assessments are measured against (services/dmo/scorecard_snapshots.py)."""

    __tablename__ = "scorecard_snapshots"

    taken_on: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    figures: Mapped[dict[str, float | None]] = mapped_column(sa.JSON)  # attribute name → headline figure
