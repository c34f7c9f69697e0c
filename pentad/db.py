"""Database plumbing shared by every service: engine, sessions, naming convention.

SQLite (the embedded default) runs in WAL mode with foreign keys and a busy timeout, and
a request that may write opens its transaction with ``BEGIN IMMEDIATE`` so two writers
queue on the lock instead of failing on a stale read snapshot; a read opens a plain
``BEGIN`` (a snapshot, no lock). Each statement is one trip to aiosqlite's thread
(``pentad.sqlite_driver``).

PostgreSQL (issue 13: a read cost four round trips, pre-ping + BEGIN + query + ROLLBACK):

- No pre-ping on checkout. A connection found dead when used is invalidated by SQLAlchemy
  (which also recycles every connection older than it), and a session's first statement,
  before anything of the request was sent, runs again once on a fresh connection
  (``_RetryFirstStatement``).
- Safe methods (GET/HEAD/OPTIONS, which the unit of work never commits) use the same pool
  in AUTOCOMMIT: no BEGIN, no ROLLBACK on return. Each statement then sees its own
  snapshot, which is what READ COMMITTED (PostgreSQL's default) gives a transaction too.
- A fixed pool: ``PENTAD_DB_POOL_SIZE`` connections (10) and ``PENTAD_DB_MAX_OVERFLOW`` (0)
  more; a request beyond them waits up to ``PENTAD_DB_POOL_TIMEOUT`` seconds for one.
  Overflow connections are closed on return, so any overflow under sustained load opens
  and closes a connection (and its TLS attempt) per request: size the pool instead.
- TLS: asyncpg's default (``prefer``) first asks every new connection for TLS. On a
  loopback host, where TLS protects nothing, Pentad connects without it unless the URL
  says otherwise; for any other host the driver's default stands. Set it in the URL:
  ``?ssl=disable``, ``?ssl=require`` (asyncpg's modes; ``verify-full`` for certificates).
"""

from __future__ import annotations

import contextvars
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, MetaData, TypeDecorator, event, func, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from pentad import sqlite_driver
from pentad.sqlite_driver import OneTripDBAPI

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


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _json_loads(text: str | bytes) -> Any:
    """JSON columns read with orjson (~6x the stdlib: a page of 50 segments reads 350 values);
    what orjson refuses and the stdlib wrote (NaN, integers past 64 bits) falls back."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def json_dumps(value: Any) -> str:
    """JSON columns (and so every outbox event's ``data``) written with orjson, not the stdlib
    ``json.dumps`` SQLAlchemy defaults to (issue 13: each write's event went through
    ``JSONEncoder``). The text is compact where the stdlib puts spaces; the values read back
    the same. The stdlib still writes what orjson refuses (integers past 64 bits, keys that
    are not strings) and anything where orjson wrote a ``null``, which may stand for a NaN or
    infinity the stdlib writes (and PostgreSQL refuses) as such."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return json.dumps(value)
    return json.dumps(value) if b"null" in text else text.decode()


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 0, pool_timeout: float = 30.0,
                  echo: bool = False, schema: str | None = None, statement_timeout: float = 0.0) -> AsyncEngine:
    if is_sqlite(url):
        one_trip = {"module": OneTripDBAPI()} if sqlite_driver.fits() else {}
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **one_trip,
                                     json_serializer=json_dumps, json_deserializer=_json_loads)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow,
                               pool_timeout=pool_timeout, pool_pre_ping=False, pool_recycle=1800,
                               connect_args={**_tls_args(url), **_server_settings(schema, statement_timeout)},
                               json_serializer=json_dumps, json_deserializer=_json_loads)


def _server_settings(schema: str | None, statement_timeout: float) -> dict[str, Any]:
    """PostgreSQL only, set once per connection (no round trip per request).

    A component sharing one database with the others finds its own tables in the schema
    named after it (``Settings.database_schema``; the launcher's concern, kept to this one
    parameter). ``public`` stays second: a database of its own made before schemas keeps its
    tables there (``pentad.migrate`` leaves them). ``statement_timeout`` (seconds, 0: none) is
    ``PENTAD_DB_STATEMENT_TIMEOUT``."""
    settings: dict[str, str] = {}
    if schema:
        settings["search_path"] = f'"{schema}", public'
    if statement_timeout > 0:
        settings["statement_timeout"] = str(max(1, round(statement_timeout * 1000)))  # milliseconds
    return {"server_settings": settings} if settings else {}


def _tls_args(url: str) -> dict[str, Any]:
    """No TLS attempt on a loopback host whose URL does not ask for one (see the module's doc)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or "ssl" in parsed.query or "sslmode" in parsed.query:
        return {}
    return {"ssl": False} if (parsed.host or "localhost") in LOOPBACK_HOSTS else {}


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


class _RetryFirstStatement(Session):
    """A session whose first statement runs again, once, when its connection was found dead.

    Safe only because nothing of the transaction has reached the database yet: it is the
    first statement, and no pending ORM change could have been flushed with it."""

    _first_done = False

    def _execute_internal(self, *args: Any, **kw: Any) -> Any:
        if self._first_done:
            return super()._execute_internal(*args, **kw)
        self._first_done = True
        clean = not (self.new or self.dirty or self.deleted)
        try:
            return super()._execute_internal(*args, **kw)
        except DBAPIError as exc:
            if not (exc.connection_invalidated and clean):
                raise
            self.rollback()  # gives the invalidated connection back; the next checkout is fresh
            return super()._execute_internal(*args, **kw)


def lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of ``name`` (its CRC-32): one keyspace for every lock
    the platform takes, named ``<component>.<what>:<which>``."""
    return zlib.crc32(name.encode())


async def lock(session: AsyncSession, name: str) -> None:
    """Hold ``name`` until the transaction ends, waiting for whoever holds it (PostgreSQL: a
    transaction-level advisory lock; SQLite has one writer, so there is nothing to take)."""
    if dialect_of(session) == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(lock_key(name))))


async def try_lock(session: AsyncSession, name: str) -> bool:
    """``lock`` if nobody holds ``name`` now; False, without waiting, if another transaction does."""
    if dialect_of(session) != "postgresql":
        return True
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(name)))))


def sent_outside_execute(session: AsyncSession) -> None:
    """Say a statement goes to the database other than through ``Session.execute`` (e.g. the
    driver's SQL on the session's connection): the next one is then never taken for the
    transaction's first and run again alone on a fresh connection (``_RetryFirstStatement``)."""
    sync = session.sync_session
    if isinstance(sync, _RetryFirstStatement):
        sync._first_done = True


@dataclass
class Database:
    """One per process, built in the lifespan and disposed there.

    ``sessionmaker`` for requests that may write; ``read_sessionmaker`` for safe methods
    (AUTOCOMMIT on PostgreSQL, same pool; the same as ``sessionmaker`` on SQLite)."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, **kw: Any) -> Database:
        engine = create_engine(url, **kw)
        reads = engine if is_sqlite(url) else engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(url, engine, _sessions(engine), _sessions(reads))

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


def _sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_RetryFirstStatement)


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
