"""Alembic, driven from code: every service (and the gateway) ships its own migrations.

``upgrade(component, url)`` brings one database to head; each component's
``migrations/env.py`` is a one-line call to ``run_env(metadata)``. On PostgreSQL the run
holds an advisory lock, so replicas starting together migrate once.
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

from pentad import SERVICES

COMPONENTS: tuple[str, ...] = (*SERVICES, "gateway")


def _package(component: str) -> str:
    return "gateway" if component == "gateway" else f"services.{component}"


def alembic_config(component: str, url: str) -> Config:
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}")
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files(_package(component)) / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    cfg.attributes["component"] = component
    return cfg


def upgrade(component: str, url: str, revision: str = "head") -> None:
    """Synchronous on purpose: call it in a thread from async code."""
    command.upgrade(alembic_config(component, url), revision)


def run_env(metadata: sa.MetaData) -> None:
    """The body of every ``migrations/env.py``."""
    cfg = context.config
    url: str = cfg.attributes.get("url") or cfg.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, cfg.attributes.get("component", "pentad")))


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
