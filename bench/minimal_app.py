"""The baseline of bench/kit.py: a minimal FastAPI + SQLAlchemy async app on Pentad's tables.

    BENCH_SEGMENTATION_URL=... BENCH_INTEGRATION_URL=... \\
        uvicorn bench.minimal_app:app --loop uvloop --http httptools --no-access-log

It runs the SQL a hand-written app needs to give the same answers as Pentad's routes, on
the same databases (the ones Pentad's migrations built and its API filled), and answers
equivalent JSON. It has none of the kit: no gateway, auth, signed identity, request id,
access line, unit-of-work middleware, problem+json, ORM objects or response models.

- ``GET /segments``: the first page of active segments by id (``limit+1`` rows for the
  cursor), every column Pentad's ``SegmentOut`` shows.
- ``GET /segments/{id}``: one segment, with its ETag.
- ``PATCH /segments/{id}``: read the row (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
  on SQLite, as Pentad does), ``UPDATE ... WHERE id AND version`` (the version check),
  commit, answer the whole segment.
- ``GET /packages?currency=GBP``: the first page of packages and the FX row, each total in
  the package's own currency and in GBP (``total_in``), converted in ``Decimal`` and rounded
  once, with the rates used.

SQLite connections get Pentad's pragmas and explicit ``BEGIN`` (pysqlite's recipe), so both
apps send SQLite the same statements. PostgreSQL uses SQLAlchemy's defaults (no pre-ping)
with Pentad's pool size. Bodies are serialised with orjson, which the kit also ships.
"""

from __future__ import annotations

import base64
import contextvars
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CENT = Decimal("0.01")
LIMIT = 50

meta = sa.MetaData()
_VERSIONED = ("version", "created_at", "updated_at")
segments = sa.Table(
    "segments", meta,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200)), sa.Column("family", sa.String(30)), sa.Column("status", sa.String(20)),
    sa.Column("specialties", sa.JSON), sa.Column("source_markets", sa.JSON), sa.Column("payer_types", sa.JSON),
    sa.Column("motivation", sa.String(20)), sa.Column("price_band", sa.JSON), sa.Column("languages", sa.JSON),
    sa.Column("demand", sa.JSON), sa.Column("threshold", sa.JSON),
    sa.Column("version", sa.Integer), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
packages = sa.Table(
    "packages", meta,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200)), sa.Column("specialty", sa.String(50)), sa.Column("currency", sa.String(3)),
    sa.Column("components", sa.JSON), sa.Column("status", sa.String(20)), sa.Column("status_reason", sa.String(500)),
    sa.Column("version", sa.Integer), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
fx_table = sa.Table(
    "fx_table", meta,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("base", sa.String(3)), sa.Column("rates", sa.JSON),
    sa.Column("version", sa.Integer), sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
SEGMENT_OUT = ("id", "name", "family", "specialties", "source_markets", "payer_types", "motivation", "price_band",
               "languages", "demand", "threshold", "status", "created_at", "updated_at")
PACKAGE_OUT = ("id", "name", "specialty", "components", "status", "status_reason", "created_at", "updated_at")

_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("immediate", default=False)


def _engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        # BENCH_PRE_PING=1 adds the kit's pool_pre_ping, to price it alone (bench/kit_profile.py).
        return create_async_engine(url, pool_size=10, max_overflow=10,
                                   pool_pre_ping=os.environ.get("BENCH_PRE_PING") == "1")
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")

    return engine


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.seg = _engine(os.environ["BENCH_SEGMENTATION_URL"])
    app.state.int = _engine(os.environ["BENCH_INTEGRATION_URL"])
    yield
    await app.state.seg.dispose()
    await app.state.int.dispose()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _segment(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in SEGMENT_OUT}
    out["created_at"], out["updated_at"] = _utc(row["created_at"]), _utc(row["updated_at"])
    return out


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_UTC_Z), status_code=status,
                    media_type="application/json", headers=headers)


def _cursor(rows: list[Any]) -> tuple[list[Any], str | None]:
    if len(rows) > LIMIT:
        rows = rows[:LIMIT]
        return rows, base64.urlsafe_b64encode(rows[-1]["id"].encode()).decode().rstrip("=")
    return rows, None


@app.get("/segments")
async def list_segments(request: Request) -> Response:
    stmt = sa.select(segments).where(segments.c.status == "active").order_by(segments.c.id).limit(LIMIT + 1)
    async with request.app.state.seg.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    rows, cursor = _cursor(list(rows))
    return _json({"items": [_segment(r) for r in rows], "next_cursor": cursor})


@app.get("/segments/{segment_id}")
async def get_segment(segment_id: str, request: Request) -> Response:
    async with request.app.state.seg.connect() as conn:
        row = (await conn.execute(sa.select(segments).where(segments.c.id == segment_id))).mappings().first()
    if row is None:
        return _json({"detail": "not found"}, 404)
    return _json(_segment(row), headers={"ETag": f'"{row["version"]}"'})


class NamePatch(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@app.patch("/segments/{segment_id}")
async def patch_segment(segment_id: str, patch: NamePatch, request: Request) -> Response:
    engine: AsyncEngine = request.app.state.seg
    token = _immediate.set(True)
    try:
        async with engine.begin() as conn:
            stmt = sa.select(segments).where(segments.c.id == segment_id)
            if engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                return _json({"detail": "not found"}, 404)
            now = datetime.now(UTC)
            done = await conn.execute(segments.update().where(
                segments.c.id == segment_id, segments.c.version == row["version"]).values(
                name=patch.name, version=row["version"] + 1, updated_at=now))
            if done.rowcount != 1:
                return _json({"detail": "changed meanwhile"}, 409)
    finally:
        _immediate.reset(token)
    out = _segment(row)
    out["name"], out["updated_at"] = patch.name, now
    return _json(out, headers={"ETag": f'"{row["version"] + 1}"'})


def _amount(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(CENT)
    return format(value, "f")


@app.get("/packages")
async def list_packages(request: Request, currency: str | None = None) -> Response:
    async with request.app.state.int.connect() as conn:
        rows = (await conn.execute(sa.select(packages).order_by(packages.c.id).limit(LIMIT + 1))).mappings().all()
        fx = (await conn.execute(sa.select(fx_table).where(fx_table.c.id == 1))).mappings().one()
    rows, cursor = _cursor(list(rows))
    base = fx["base"]
    rates = {c: Decimal(r) for c, r in fx["rates"].items()}
    target_asked = currency.strip().upper() if currency else None

    def rate(c: str) -> Decimal:
        return Decimal(1) if c == base else rates[c]

    def total_in(components: list[Any], target: str, used: set[str]) -> dict[str, str]:
        total = Decimal(0)
        for component in components:
            source = component["price"]["currency"]
            amount = Decimal(component["price"]["amount"])
            total += amount if source == target else amount / rate(source) * rate(target)
            if source != target:
                used.update({source, target} - {base})
        return {"amount": _amount(total.quantize(CENT, rounding=ROUND_HALF_EVEN)), "currency": target}

    items = []
    for row in rows:
        used: set[str] = set()
        own = total_in(row["components"], row["currency"], used)
        asked = None if target_asked is None else (
            own if target_asked == row["currency"] else total_in(row["components"], target_asked, used))
        item = {k: row[k] for k in PACKAGE_OUT}
        item["created_at"], item["updated_at"] = _utc(row["created_at"]), _utc(row["updated_at"])
        item |= {"currency": row["currency"], "total": own, "total_in": asked,
                 "fx_rates": {c: format(rates[c], "f") for c in sorted(used)}, "fx_base": base}
        items.append(item)
    return _json({"items": items, "next_cursor": cursor})
