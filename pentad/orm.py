"""Column sets most tables share: timestamps and a version that is the record's ETag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from pentad.db import UTCDateTime
from pentad.errors import NotFound

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Versioned:
    """``version`` bumps on every UPDATE (optimistic locking); it is what ETag/If-Match compare."""

    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


# One prebuilt SELECT per (model, lock): ``Session.get`` builds its statement and computes its
# cache key on every call, ~5% of a PATCH's CPU (issue 13); a kept statement memoizes its key.
_BY_KEY: dict[tuple[type[Any], bool], sa.Select[Any]] = {}


def _by_key(model: type[Any], for_update: bool) -> sa.Select[Any] | None:
    found = _BY_KEY.get((model, for_update))
    if found is None:
        pk = sa.inspect(model).primary_key
        if len(pk) != 1:
            return None  # composite keys keep Session.get
        found = sa.select(model).where(pk[0] == sa.bindparam("pentad_key"))
        _BY_KEY[(model, for_update)] = found = found.with_for_update() if for_update else found
    return found


def _in_session(session: AsyncSession, model: type[Any], key: str) -> bool:
    return sa.inspect(model).identity_key_from_primary_key([key]) in session.identity_map


async def get_or_raise(session: AsyncSession, model: type[T], key: str, *, noun: str,
                       for_update: bool = False) -> T:
    """The row or the domain's 404. ``for_update`` locks it (PostgreSQL) so concurrent
    changes queue instead of failing on the version check.

    As ``Session.get`` (which still serves an object already in the session, the way it
    does); a lock always runs its SELECT ... FOR UPDATE, as ``Session.get`` does too."""
    stmt = _by_key(model, for_update)
    if stmt is None or (not for_update and _in_session(session, model, key)):
        found = await session.get(model, key, with_for_update=for_update)
    else:
        found = (await session.execute(stmt, {"pentad_key": key})).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No {noun} {key!r}.")
    return found  # type: ignore[no-any-return]


# One UPDATE per (table, columns set), SET from the parameters given: see ``update_columns``.
_UPDATES: dict[tuple[sa.Table, frozenset[str]], sa.Update] = {}


def _plain_columns(mapper: Any, keys: Any) -> dict[str, str] | None:
    """attribute key -> column key, if every key is a plain column of the mapper's own table
    and the table updates nothing by itself but ``updated_at``; else None (the ORM's flush)."""
    table = mapper.local_table
    if any(c.onupdate is not None and c.key != "updated_at" for c in table.columns):
        return None
    out = {}
    for key in keys:
        prop = mapper.attrs.get(key)
        columns = getattr(prop, "columns", None)
        if not columns or len(columns) != 1 or columns[0].table is not table:
            return None
        out[key] = columns[0].key
    return out


async def update_columns(session: AsyncSession, obj: Any, changes: dict[str, Any]) -> None:
    """Set ``changes`` (attribute -> value) on a loaded ``Versioned`` row as the ORM's flush
    would, in one Core UPDATE: only the values that differ, ``version`` bumped and checked
    (``WHERE version = <the one read>``; another writer's change is the ``StaleDataError``
    the ORM raises), ``updated_at`` set; the object then holds them as committed state.

    The ORM's unit of work cost ~200 us of a PATCH's CPU more (issue 13, bench/kit.py). A
    change to anything else than a plain column (a relationship, a column the table updates
    itself), an object already changed in memory or with expired values, goes through the ORM
    as before."""
    mapper = sa.inspect(type(obj))
    state = sa.inspect(obj)
    if state.modified or state.unloaded & {"version", *changes}:
        # Changes already made on the object go with these, in one version step; an expired
        # or unloaded value is loaded by the flush (reading it here would need IO outside the session).
        changed, columns = changes, None
    else:
        changed = {k: v for k, v in changes.items() if getattr(obj, k) != v}
        columns = _plain_columns(mapper, changed)
    if columns is None or len(mapper.primary_key) != 1:
        for key, value in changed.items():
            setattr(obj, key, value)
        await session.flush()
        return
    if not changed:
        return  # as the flush: nothing to write, no new version
    table = mapper.local_table
    stmt = _UPDATES.get((table, frozenset(columns.values())))
    if stmt is None:
        stmt = _UPDATES[(table, frozenset(columns.values()))] = table.update().where(
            mapper.primary_key[0] == sa.bindparam("pentad_key"),
            table.c.version == sa.bindparam("pentad_version"))
    version = obj.version
    values = {**changed, "version": version + 1, "updated_at": utcnow()}
    params = {columns.get(k, k): v for k, v in values.items()}
    key = mapper.primary_key_from_instance(obj)[0]
    result = await (await session.connection()).execute(stmt, {**params, "pentad_key": key,
                                                               "pentad_version": version})
    if result.rowcount != 1:
        raise StaleDataError(f"{table.name} {key!r} was changed meanwhile (version {version})")
    for attr, value in values.items():
        set_committed_value(obj, attr, value)
