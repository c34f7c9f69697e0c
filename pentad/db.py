"""Database plumbing shared by every service: engine, sessions, naming convention.

SQLite (the embedded default) runs in WAL mode with foreign keys and a busy timeout, and
a request that may write opens its transaction with ``BEGIN IMMEDIATE`` so two writers
queue on the lock instead of failing on a stale read snapshot.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Set per request by the unit-of-work middleware: does this transaction intend to write?
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False, schema: str | None = None) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                               pool_pre_ping=True, pool_recycle=1800, connect_args=_search_path(schema))


def _search_path(schema: str | None) -> dict[str, Any]:
    """PostgreSQL only: a component sharing one database with the others finds its own tables
    in the schema named after it (``Settings.database_schema``; the launcher's concern, kept
    to this one parameter). ``public`` stays second: a database of its own made before
    schemas keeps its tables there (``pentad.migrate`` leaves them)."""
    if not schema:
        return {}
    return {"server_settings": {"search_path": f'"{schema}", public'}}


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000",
                       "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


@dataclass
class Database:
    """One per process, built in the lifespan and disposed there."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, **kw: Any) -> Database:
        engine = create_engine(url, **kw)
        return cls(url, engine, async_sessionmaker(engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        token = write_intent.set(False)
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            write_intent.reset(token)

    async def dispose(self) -> None:
        await self.engine.dispose()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
