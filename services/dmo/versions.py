"""What a cached offer depends on, counted in the read model: one version per part of it.

An offer of a segment reads the segment's row, the providers of its specialties (their
record, languages, accreditations, capacity rows of those specialties, packages of those
specialties) and the FX table; nothing else the pillars feed. So each change is counted
against what it can change: ``specialty:<code>`` for a provider's record, capacity or
package (every specialty it had or has: a change of specialties moves the provider between
offers), ``segment:<id>`` for the segment, ``fx`` for the FX table, and ``all`` for what may
change any offer (an accreditation, whose holder's specialties come from another feed:
``readmodel.put_accreditation``; a rebuild, a bulk put). Each count is made from what the
applying transaction writes, never from another feed's rows. The offer's cache key holds
the segment's own, its specialties' and ``fx`` and ``all`` (``keys_of``): an event changes
the key of the segments it can change and of no other (``api.py``). Before, the key held
every feed's position, so any event made every segment's answer unusable: the 24 segments
of ``bench/offer.py`` were all computed again at once, twice a second, p99 ~150 ms.

A write notes its keys (``bump``); they are written when its session next commits, in that
transaction (a ``before_commit`` hook on the session): no applying path can forget them, and a
reader never sees a change without its count. A rollback keeps them: counted at a later
commit of the same session they only cost an offer computed again, where forgetting them
could lose a count (a savepoint rolled back inside the transaction, the first statement's
retry on a fresh connection: ``pentad.db``). Each key once a transaction,
in order: one update a key for a page of events, and two replicas applying two feeds at
once lock the rows they share in the same order (no deadlock). A version only grows; no
row is ever deleted (a segment removed and made again must not find its old count).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from pentad.db import UTCDateTime, dialect_of
from services.dmo.models import RmOfferVersion

ALL, FX = "all", "fx"
_PENDING = "dmo.offer_versions"


def specialty(code: str) -> str:
    return f"specialty:{code}"


def segment(segment_id: str) -> str:
    return f"segment:{segment_id}"


def bump(session: AsyncSession, keys: Iterable[str]) -> None:
    """Count a change against ``keys`` when this session's transaction commits."""
    info = session.info
    if _PENDING not in info:
        info[_PENDING] = set()
        event.listen(session.sync_session, "before_commit", _write_pending)
    info[_PENDING].update(keys)


def _write_pending(session: Session) -> None:
    """Run inside ``AsyncSession.commit`` (its greenlet): a sync ``execute`` is allowed here."""
    keys = sorted(session.info.get(_PENDING, ()))
    session.info[_PENDING] = set()
    if not keys:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RmOfferVersion).values([{"key": k, "version": 1} for k in keys])
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"version": RmOfferVersion.version + 1}))


async def current(session: AsyncSession, keys: Iterable[str]) -> dict[str, int]:
    """The versions of ``keys`` that were ever counted (tests, the bench)."""
    v = RmOfferVersion
    return dict((await session.execute(sa.select(v.key, v.version).where(v.key.in_(list(keys))))).all())


# The feed positions (every offer answers with them) and the versions of what the segment's
# offer reads, in one round trip: ``kind`` 'feed' rows are (feed, seq, drained_at), 'version'
# rows (key, version). The segment's specialties are read from its row in the same statement.
_ELEMENTS = {"postgresql": "json_array_elements_text(s.specialties) AS e(value)",
             "sqlite": "json_each(s.specialties) AS e"}
_KEYED = (
    "SELECT 'feed' AS kind, feed AS key, seq AS n, drained_at FROM feed_cursors "
    "UNION ALL "
    "SELECT 'version', key, version, NULL FROM rm_offer_versions "
    "WHERE key IN (:all_key, :fx_key, :segment_key) OR key IN ("
    "SELECT 'specialty:' || e.value FROM rm_segments s, {elements} WHERE s.id = :segment_id)")


@functools.cache  # one object per dialect: SQLAlchemy's compiled cache then serves it
def _keyed(dialect: str) -> sa.TextualSelect:
    return sa.text(_KEYED.format(elements=_ELEMENTS[dialect])).columns(
        sa.column("kind", sa.String), sa.column("key", sa.String), sa.column("n", sa.BigInteger),
        sa.column("drained_at", UTCDateTime()))


async def keys_of(session: AsyncSession, segment_id: str) -> tuple[list[Any], tuple[tuple[str, int], ...]]:
    """The feed cursors' rows (feed, seq, drained_at) and the versions the segment's offer
    depends on, (key, version) sorted; a key never counted is absent (its first count changes
    the tuple all the same)."""
    rows = (await session.execute(_keyed(dialect_of(session)), {
        "all_key": ALL, "fx_key": FX, "segment_key": segment(segment_id), "segment_id": segment_id})).all()
    cursors = sorted((r for r in rows if r.kind == "feed"), key=lambda r: r.key)
    return ([(r.key, r.n, r.drained_at) for r in cursors],
            tuple(sorted((r.key, int(r.n)) for r in rows if r.kind == "version")))
