"""SQLite statements in one trip to aiosqlite's thread instead of three or four.

SQLAlchemy's aiosqlite adapter hands every statement to aiosqlite's worker thread several
times: to open a cursor, to execute, to fetch the rows (when there are any) and to close the
cursor, each a queue put, a thread wake-up and a future. A PATCH (BEGIN IMMEDIATE, SELECT,
UPDATE, the outbox INSERT, COMMIT) made 15 such trips; they were the largest single cost of
a write on SQLite (issue 13, py-spy: ~25% of the service's CPU in ``Connection._execute``).
This cursor does the whole statement in one trip: open, execute, fetch all, close, and keeps
what the caller reads afterwards (rows, description, rowcount, lastrowid). Rows were already
all fetched at execute by the stock adapter (``_execute_async``), so nothing changes for the
caller but the count of trips. Server-side cursors (``stream``) keep the stock adapter's.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: the whole statement, cursor opened and closed here."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # none held between trips
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return  # nothing open: the trip closed its cursor

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        return self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            await_(self._trip_async(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip_async(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


def fits() -> bool:
    """Whether the installed SQLAlchemy and aiosqlite have the internals this cursor stands on
    (checked with SQLAlchemy 2.1 and aiosqlite 0.22). When a release moves them, the kit takes
    the stock adapter (``pentad.db``) rather than fail, and tests/test_sqlite_driver.py fails
    so that someone looks."""
    stock = AsyncAdapt_aiosqlite_connection
    return (callable(getattr(aiosqlite.Connection, "_execute", None)) and hasattr(stock, "_handle_exception")
            and hasattr(stock, "_cursor_cls") and hasattr(AsyncAdapt_aiosqlite_cursor, "_soft_closed_memoized")
            and "_execute_mutex" in stock.__init__.__code__.co_names)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Give as ``module=`` to ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = super().connect(*arg, **kw)
        connection.__class__ = OneTripConnection  # same layout: the stock one with our cursors
        return connection  # type: ignore[return-value]
