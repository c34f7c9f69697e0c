"""The kit's database paths (issue 13): what a read costs, dead connections, a pool that does not churn."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from sqlalchemy.exc import DBAPIError

from pentad import outbox
from pentad.db import Database, _json_loads, _tls_args, create_engine, json_dumps, lock, try_lock
from pentad.deps import Session
from pentad.service_app import build_service_app
from pentad.uow import RETRIES
from tests.conftest import pg_or_skip
from tests.support import PG_ADMIN_URL, STAFF, asgi_client, settings_for

probe = APIRouter()


async def _in_transaction(session: Session) -> bool:
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    return bool(raw.is_in_transaction()) if conn.dialect.name == "postgresql" else bool(raw.in_transaction)


@probe.get("/probe/read")
async def read(session: Session) -> dict[str, object]:
    pid = (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar() \
        if session.get_bind().dialect.name == "postgresql" else 0
    return {"pid": pid, "in_transaction": await _in_transaction(session)}


@probe.post("/probe/write")
async def write(session: Session) -> dict[str, object]:
    await session.execute(sa.text("SELECT 1"))
    return {"in_transaction": await _in_transaction(session)}


@probe.get("/probe/slow")
async def slow(session: Session) -> dict[str, object]:
    await session.execute(sa.text("SELECT pg_sleep(0.01)"))  # holds its connection a little
    return {}


class _LostRace(Exception):
    pgcode = "40P01"  # deadlock_detected, as asyncpg's errors carry it through SQLAlchemy


attempts: dict[str, int] = {}


@probe.post("/probe/contended/{key}")
async def contended(key: str, session: Session, fail_times: int = 1) -> dict[str, int]:
    """Records an event, then loses a race ``fail_times`` times before it succeeds."""
    outbox.record(session, type="probe.contended", subject=key, data={})
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] <= fail_times:
        raise DBAPIError("UPDATE ...", {}, _LostRace("deadlock detected"))
    return {"attempts": attempts[key]}


@pytest.fixture
async def app_url(databases) -> str:
    return await databases.new("segmentation")


def _app(app_url: str, tmp: Path, **settings: object) -> object:
    return build_service_app(settings_for("segmentation", app_url, tmp, **settings), title="probe",
                             description="probe", routers=[probe])


@pytest.fixture
async def client(app_url: str, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    attempts.clear()
    async with asgi_client(_app(app_url, tmp), STAFF) as c:
        yield c


def _pg_only(app_url: str) -> None:
    if not app_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")


async def _admin(sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_a_read_opens_no_transaction_on_postgresql_and_a_write_does(client: httpx.AsyncClient,
                                                                       app_url: str) -> None:
    _pg_only(app_url)
    # No BEGIN and no ROLLBACK around a safe method's statements (AUTOCOMMIT): one round trip.
    assert (await client.get("/probe/read")).json()["in_transaction"] is False
    assert (await client.post("/probe/write")).json()["in_transaction"] is True


async def test_a_read_takes_no_write_lock_on_sqlite(client: httpx.AsyncClient, app_url: str) -> None:
    if not app_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    path = app_url.split("///", 1)[1]
    assert (await client.get("/probe/read")).status_code == 200  # connected (its pragmas set)
    holder = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        r = await client.get("/probe/read")
        assert r.status_code == 200 and r.json()["in_transaction"] is True  # a snapshot, not the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_read_after_its_connection_was_killed_still_succeeds(client: httpx.AsyncClient,
                                                                     app_url: str) -> None:
    """No pre-ping: the dead connection is found when used and the first statement runs again."""
    _pg_only(app_url)
    first = (await client.get("/probe/read")).json()["pid"]
    assert (await _admin("SELECT pg_terminate_backend($1)", first))[0][0] is True
    for _ in range(100):
        if not await _admin("SELECT 1 FROM pg_stat_activity WHERE pid = $1", first):
            break
        await asyncio.sleep(0.05)
    r = await client.get("/probe/read")
    assert r.status_code == 200, r.text
    assert r.json()["pid"] != first
    # A write's first statement, before anything was sent, gets the same second chance.
    again = r.json()["pid"]
    await _admin("SELECT pg_terminate_backend($1)", again)
    await asyncio.sleep(0.2)
    assert (await client.post("/probe/write")).status_code == 200


async def test_sustained_concurrency_at_the_pool_size_opens_no_connection(app_url: str, tmp: Path) -> None:
    _pg_only(app_url)
    database = app_url.rsplit("/", 1)[1]
    size = 4

    async def backends() -> set[tuple[int, object]]:
        rows = await _admin("SELECT pid, backend_start FROM pg_stat_activity WHERE datname = $1", database)
        return {(r["pid"], r["backend_start"]) for r in rows}

    async with asgi_client(_app(app_url, tmp, db_pool_size=size, db_max_overflow=0), STAFF) as c:
        async def worker(n: int) -> list[int]:
            return [(await c.get("/probe/slow")).status_code for _ in range(n)]

        await asyncio.gather(*(worker(3) for _ in range(size)))  # the pool is filled
        before = await backends()
        # Twice the pool's size in flight: the extra requests wait for a connection, none is opened.
        codes = await asyncio.gather(*(worker(15) for _ in range(2 * size)))
        after = await backends()
    assert {c for run in codes for c in run} == {200}
    assert len(before) == size
    assert after == before


def test_tls_is_left_to_the_driver_except_on_loopback_or_when_the_url_says() -> None:
    assert _tls_args("postgresql+asyncpg://u@127.0.0.1:5432/db") == {"ssl": False}
    assert _tls_args("postgresql+asyncpg://u@localhost/db") == {"ssl": False}
    assert _tls_args("postgresql+asyncpg://u@db.internal:5432/db") == {}  # asyncpg's "prefer"
    assert _tls_args("postgresql+asyncpg://u@127.0.0.1/db?ssl=require") == {}  # the URL decides
    assert _tls_args("sqlite+aiosqlite:///x.db") == {}


async def test_a_write_that_loses_a_database_race_is_run_again(client: httpx.AsyncClient) -> None:
    r = await client.post("/probe/contended/once", params={"fail_times": 2})
    assert r.status_code == 200 and r.json() == {"attempts": 3}
    events = (await client.get("/events", params={"limit": 500})).json()["items"]
    assert [e["subject"] for e in events if e["type"] == "probe.contended"] == ["once"]  # the lost tries left nothing


async def test_a_write_that_keeps_losing_is_a_503_to_retry_never_a_500(client: httpx.AsyncClient) -> None:
    r = await client.post("/probe/contended/always", params={"fail_times": 99})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/contended")
    assert attempts["always"] == RETRIES + 1


def test_json_columns_read_what_the_stdlib_wrote() -> None:
    assert _json_loads('{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert _json_loads(b'{"a": 2}') == {"a": 2}
    big = 2**70
    assert _json_loads(f'{{"n": {big}}}') == {"n": big}  # past orjson's 64 bits
    assert _json_loads('[NaN]')[0] != _json_loads('[NaN]')[0]  # the stdlib writes NaN



def test_json_columns_write_what_reads_back_the_same_and_the_stdlib_where_orjson_differs() -> None:
    for value in ({"a": [1, "x"], "b": {"c": 1.5}}, ["é", "\u2028"], "x", 3):
        assert json.loads(json_dumps(value)) == value
    assert json_dumps({"a": [1, 2]}) == '{"a":[1,2]}'  # orjson's compact text
    assert json_dumps({"n": 2**70}) == json.dumps({"n": 2**70})  # past orjson's 64 bits
    assert json_dumps({1: "x"}) == json.dumps({1: "x"})  # a key that is not a string
    # orjson writes NaN and infinity as null: the stdlib's text stands wherever a null is.
    assert json_dumps([float("nan"), None]) == json.dumps([float("nan"), None]) == "[NaN, null]"

async def test_a_statement_past_the_statement_timeout_is_cancelled_on_postgresql() -> None:
    await pg_or_skip()
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    limited = create_engine(url, statement_timeout=0.2)
    unlimited = create_engine(url)
    try:
        async with limited.connect() as conn:
            assert (await conn.execute(sa.text("SHOW statement_timeout"))).scalar() == "200ms"
            with pytest.raises(DBAPIError, match="statement timeout"):
                await conn.execute(sa.text("SELECT pg_sleep(2)"))
        async with unlimited.connect() as conn:
            assert (await conn.execute(sa.text("SHOW statement_timeout"))).scalar() == "0"
    finally:
        await limited.dispose()
        await unlimited.dispose()


async def test_after_the_outbox_wrote_on_the_driver_a_dead_connection_is_never_retried_alone(app_url: str) -> None:
    """The first event goes as the driver's SQL, outside ``Session.execute``: if the connection
    dies after it, the next statement must fail the transaction, not run again alone on a fresh
    connection (which would commit the later events without the first)."""
    _pg_only(app_url)
    db = Database.connect(app_url)
    try:
        async with db.sessionmaker() as session:
            outbox.record(session, type="probe.first", subject="a", data={})
            await outbox.flush(session, source="probe")  # the transaction's first statement
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
            await _admin("SELECT pg_terminate_backend($1)", raw.get_server_pid())
            with pytest.raises(DBAPIError):
                await session.execute(sa.text("SELECT 1"))
        async with db.engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM outbox_events"))).scalar() == 0
    finally:
        await db.dispose()


async def test_a_named_lock_is_held_to_the_end_of_the_transaction_on_postgresql_and_free_on_sqlite(app_url: str
                                                                                                  ) -> None:
    db = Database.connect(app_url)
    try:
        async with db.sessionmaker() as first, db.sessionmaker() as second:
            await lock(first, "tests.lock:a")
            postgresql = app_url.startswith("postgresql")
            # On SQLite the writer's own lock is the database's: nothing else to take.
            assert await try_lock(second, "tests.lock:a") is not postgresql
            assert await try_lock(second, "tests.lock:b")  # another name is another lock
            await second.rollback()
            await first.rollback()  # the end of the transaction lets it go
            assert await try_lock(second, "tests.lock:a")
    finally:
        await db.dispose()
