"""Alembic, driven from code: every component (each service, the gateway) has its own
chain of revisions in ``<package>/migrations/`` and shares one env (``migration_env``).

``ensure_database(url)`` makes a missing PostgreSQL database when the role may;
``upgrade(component, url, schema=...)`` brings one component to head. On PostgreSQL the
run holds an advisory lock, so replicas starting together migrate once. With a ``schema``
(one database shared by every component, ``Settings.database_schema``) the component's
tables and its own ``alembic_version`` live in that schema, created here when missing.
Whatever cannot be done is a ``SetupError`` whose one line says what to do.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from pentad.components import named
from pentad.db import lock_key
from pentad.settings import SetupError

log = structlog.get_logger("pentad.migrate")

# SQLSTATEs met while preparing a database.
_NO_DATABASE, _DATABASE_EXISTS, _NO_PRIVILEGE = "3D000", "42P04", "42501"
_AUTH_FAILED = ("28P01", "28000")


def alembic_config(component: str, url: str, schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pentad") / "migration_env"))
    cfg.set_main_option("version_locations", str(named(component).migrations))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    cfg.attributes["component"] = component
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(component: str, url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Synchronous on purpose: call it in a thread from async code."""
    command.upgrade(alembic_config(component, url, schema), revision)


def downgrade(component: str, url: str, revision: str, *, schema: str | None = None) -> None:
    command.downgrade(alembic_config(component, url, schema), revision)


def run_env() -> None:
    """The body of the shared ``env.py``: migrate the configured component's database."""
    cfg = context.config
    url: str = cfg.attributes.get("url") or cfg.get_main_option("sqlalchemy.url") or ""
    component: str = cfg.attributes["component"]
    metadata: sa.MetaData = named(component).module("models").Base.metadata
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, component, cfg.attributes.get("schema")))


async def _run_online(url: str, metadata: sa.MetaData, component: str, schema: str | None) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate, metadata, component, schema)
            await conn.commit()
    finally:
        await engine.dispose()


def _migrate(conn: Connection, metadata: sa.MetaData, component: str, schema: str | None) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(f"migrate:{component}"))))
        schema = _schema_to_use(conn, component, schema)
    else:
        schema = None
    if schema:
        # For this transaction only: the migrations' unqualified names land in the schema.
        conn.execute(sa.select(sa.func.set_config("search_path", _quoted(schema), True)))
    context.configure(connection=conn, target_metadata=metadata, version_table_schema=schema,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _schema_to_use(conn: Connection, component: str, schema: str | None) -> str | None:
    """``schema``, created if missing; None when the component already lives in ``public``
    (a database of its own made before schemas: its tables stay where they are)."""
    if schema is None or _lives_in_public(conn):
        return None
    if conn.scalar(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}):
        return schema
    database, role = conn.execute(sa.text("SELECT current_database(), current_user")).one()
    try:
        conn.execute(sa.text(f"CREATE SCHEMA {_quoted(schema)}"))
    except sa.exc.DBAPIError as exc:
        if _sqlstate(exc) != _NO_PRIVILEGE:
            raise
        raise SetupError(f'schema "{schema}" does not exist in database "{database}" and role "{role}" may not '
                         f'create it; create it with: CREATE SCHEMA {schema} AUTHORIZATION "{role}";') from None
    log.info("migrate.schema_created", component=component, schema=schema)
    return schema


def _lives_in_public(conn: Connection) -> bool:
    if conn.scalar(sa.text("SELECT to_regclass('public.alembic_version')")) is None:
        return False
    ours = {script.revision for script in context.script.walk_revisions()}
    return any(v in ours for v in conn.scalars(sa.text("SELECT version_num FROM public.alembic_version")))


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE behind an error, however SQLAlchemy and asyncpg wrapped it."""
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if code := getattr(err, "sqlstate", None) or getattr(err, "pgcode", None):
            return str(code)
        todo += [getattr(err, "orig", None), err.__cause__, err.__context__]
    return None


def ensure_database(url: str) -> None:
    """The database ``url`` names exists afterwards, or ``SetupError`` says what to do.

    PostgreSQL: created when missing and the role may (``CREATEDB``). SQLite: the file is
    created on first use, but its directory must exist. Synchronous, like ``upgrade``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return
        folder = Path(parsed.database).resolve().parent
        if not folder.is_dir():
            raise SetupError(f"PENTAD_DATABASE_URL: the directory of the SQLite file, {folder}, does not exist")
        return
    asyncio.run(_ensure_postgres(parsed))


async def _ensure_postgres(url: URL) -> None:
    if not await _can_connect(url):
        await _create_database(url)


async def _can_connect(url: URL) -> bool:
    """True when the database answers; False when it does not exist; otherwise, why not."""
    engine = create_async_engine(url)
    try:
        async with engine.connect():
            return True
    except (OSError, sa.exc.DBAPIError) as exc:
        state = _sqlstate(exc)
        if state == _NO_DATABASE:
            return False
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        if state in _AUTH_FAILED:
            raise SetupError(f'PostgreSQL at {where} refused role "{url.username}": {_first_line(exc)}') from None
        raise SetupError(f'cannot reach database "{url.database}" at {where}: {_first_line(exc)}') from None
    finally:
        await engine.dispose()


async def _create_database(url: URL) -> None:
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f"CREATE DATABASE {_quoted(url.database or '')}"))
        log.info("migrate.database_created", database=url.database)
    except (OSError, sa.exc.DBAPIError) as exc:
        if _sqlstate(exc) == _DATABASE_EXISTS:  # another process made it a moment ago
            return
        raise SetupError(
            f'database "{url.database}" does not exist and role "{url.username}" may not create it; create it '
            f"with: createdb -h {url.host or 'localhost'} -p {url.port or 5432} -O {url.username} {url.database}"
        ) from None
    finally:
        await engine.dispose()


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ or getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
