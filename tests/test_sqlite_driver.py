"""pentad.sqlite_driver: a statement is one trip to aiosqlite's thread, and answers as the stock adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pentad.db import create_engine

SCRIPT = [
    ("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)", None),
    ("INSERT INTO t (b) VALUES (:b)", {"b": "x"}),
    ("INSERT INTO t (b) VALUES (:b)", [{"b": "y"}, {"b": "z"}]),
    ("UPDATE t SET b = :b WHERE a > :a", {"b": "q", "a": 1}),
    ("INSERT INTO t (b) VALUES (:b) RETURNING a", {"b": "r"}),
    ("DELETE FROM t WHERE a = :a", {"a": 99}),
    ("SELECT a, b FROM t ORDER BY a", None),
]


async def _outcomes(engine: AsyncEngine) -> list[Any]:
    out: list[Any] = []
    async with engine.begin() as conn:
        for sql, params in SCRIPT:
            result = await conn.execute(sa.text(sql), params)
            rows = [tuple(r) for r in result.fetchmany(1)] + [tuple(r) for r in result.fetchall()] \
                if result.returns_rows else None
            out.append((sql, result.rowcount, rows, list(result.keys()) if result.returns_rows else None))
        async with conn.stream(sa.text("SELECT count(*) FROM t")) as streamed:
            out.append(("stream", [tuple(r) for r in await streamed.all()]))
        with pytest.raises(IntegrityError):
            await conn.execute(sa.text("INSERT INTO t (a, b) VALUES (1, 'dup')"))
    return out


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    ours = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}")
    stock = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    yield ours, stock
    await ours.dispose()
    await stock.dispose()


async def test_statements_answer_as_with_the_stock_adapter(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    ours, stock = engines
    assert await _outcomes(ours) == await _outcomes(stock)


async def test_a_statement_is_one_trip_to_the_thread(engines: tuple[AsyncEngine, AsyncEngine],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _ = engines
    trips: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kw)

    async with ours.connect() as conn:  # connected (pragmas run) before counting
        await conn.execute(sa.text("SELECT 1"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        await conn.execute(sa.text("SELECT :x"), {"x": 2})
    assert trips.count("_run") == 1 and all(name in {"_run", "rollback"} for name in trips), trips


def test_the_installed_sqlalchemy_and_aiosqlite_have_what_the_driver_stands_on() -> None:
    """Else the kit silently takes the stock adapter (slower by a fifth a write): look then."""
    from pentad import sqlite_driver

    assert sqlite_driver.fits()
    assert isinstance(create_engine("sqlite+aiosqlite:///:memory:").dialect.loaded_dbapi,
                      sqlite_driver.OneTripDBAPI)
