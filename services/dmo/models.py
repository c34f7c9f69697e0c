"""Tables of the DMO coordinator service."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from pentad.db import make_metadata
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


add_kit_tables(Base.metadata)
