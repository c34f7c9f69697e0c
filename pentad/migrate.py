"""Alembic, driven from code: every component (each service, the gateway) has its own
chain of revisions in ``<package>/migrations/`` and shares one env (``migration_env``).

``upgrade(component, url)`` brings one database to head. On PostgreSQL the run holds an
advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import asyncio
import zlib
from importlib import resources

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from pentad.components import named


def alembic_config(component: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pentad") / "migration_env"))
    cfg.set_main_option("version_locations", str(named(component).migrations))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    cfg.attributes["component"] = component
    return cfg


def upgrade(component: str, url: str, revision: str = "head") -> None:
    """Synchronous on purpose: call it in a thread from async code."""
    command.upgrade(alembic_config(component, url), revision)


def downgrade(component: str, url: str, revision: str) -> None:
    command.downgrade(alembic_config(component, url), revision)


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
    asyncio.run(_run_online(url, metadata, component))


async def _run_online(url: str, metadata: sa.MetaData, component: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate, metadata, component)
            await conn.commit()
    finally:
        await engine.dispose()


def _migrate(conn: Connection, metadata: sa.MetaData, component: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(f"migrate:{component}".encode()))))
    context.configure(connection=conn, target_metadata=metadata,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
