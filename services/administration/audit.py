"""The audit trail: one entry for every state change this service makes.

Entries are added to the session of the change they describe, so they commit with it or
not at all (a change that is rolled back leaves no entry). The table is append-only in
the database (migration adm_0004); nothing here or anywhere updates or deletes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.http import current_request_id
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.orm import utcnow
from pentad.pagination import PageParams, paginate
from services.administration.models import AuditEntry, Base


def snapshot(record: Base) -> dict[str, Any]:
    """The record's stored columns as JSON values (what ``before`` and ``after`` hold)."""
    return {column.key: _json(getattr(record, column.key)) for column in sa.inspect(record).mapper.column_attrs}


def _json(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record(session: AsyncSession, *, actor: Caller | str, entity: str, entity_id: str, action: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> AuditEntry:
    """Add an entry to the request's transaction. ``actor`` is the verified caller, or the
    name of the clock-driven job (``sweep:<name>``) that made the change."""
    who, role, stakeholder = ((actor.key_id, actor.role.value, actor.stakeholder_id) if isinstance(actor, Caller)
                              else (actor, "system", None))
    entry = AuditEntry(id=new_id("aud"), at=utcnow(), actor=who, actor_role=role, actor_stakeholder_id=stakeholder,
                       entity=entity, entity_id=entity_id, action=action, before=before, after=after,
                       request_id=current_request_id.get() or "-")
    session.add(entry)
    return entry


async def list_(session: AsyncSession, *, paging: PageParams, entity: str | None = None,
                entity_id: str | None = None, actor: str | None = None, from_: datetime | None = None,
                to: datetime | None = None) -> tuple[Sequence[AuditEntry], str | None]:
    """Oldest first; ``from_`` inclusive, ``to`` exclusive."""
    stmt = sa.select(AuditEntry)
    for column, value in ((AuditEntry.entity, entity), (AuditEntry.entity_id, entity_id),
                          (AuditEntry.actor, actor)):
        if value:
            stmt = stmt.where(column == value)
    if from_ is not None:
        stmt = stmt.where(AuditEntry.at >= from_)
    if to is not None:
        stmt = stmt.where(AuditEntry.at < to)
    return await paginate(session, stmt, AuditEntry.seq, paging)
