"""PostgreSQL layouts: one database for every component (a schema each), a database per
component (``{service}``, public schema), and a database of its own made before schemas.

The apps run in this process on real uvicorn servers; migrations are the launcher's.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.app import create_app as create_gateway
from launcher.preflight import migrate_components
from pentad import migrate
from pentad.components import COMPONENT_NAMES, SERVICE_NAMES
from pentad.settings import Settings
from services.segmentation.demo import SEGMENTS
from tests.support import PG_ADMIN_URL, SECRET, STAFF, SignedAs, build, free_port, serving

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/"


async def _admin(*statements: str, database: str = "postgres") -> list[asyncpg.Record]:
    conn = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database)
    try:
        rows: list[asyncpg.Record] = []
        for sql in statements:
            rows = await conn.fetch(sql)
        return rows
    finally:
        await conn.close()


async def tables(database: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in await _admin("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema "
                            "NOT IN ('pg_catalog', 'information_schema')", database=database):
        found.setdefault(row["table_schema"], set()).add(row["table_name"])
    return found


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database name of the test's own (not created), dropped afterwards."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except OSError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unreachable ({exc})")
    name = f"pentad_layout_{uuid.uuid4().hex[:8]}"
    yield name
    asyncio.run(_admin(*(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)'
                         for d in [name, *(f"{name}_{c}" for c in COMPONENT_NAMES)])))


async def start(stack: AsyncExitStack, tmp: Path) -> str:
    """Every component on PENTAD_DATABASE_URL, as `pentad up` starts them; the gateway's URL."""
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
    for name in SERVICE_NAMES:
        app = build(name, Settings(service=name, secret=SECRET, data_dir=tmp, service_urls=urls))
        await stack.enter_async_context(serving(app, int(urls[name].rsplit(":", 1)[1])))
    gateway = create_gateway(Settings(service="gateway", secret=SECRET, data_dir=tmp, service_urls=urls))
    return await stack.enter_async_context(serving(gateway))


async def test_one_database_holds_every_component_in_its_own_schema_across_restarts(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENTAD_DATABASE_URL", SERVER + database)
    await asyncio.to_thread(migrate_components, COMPONENT_NAMES, tmp_path)  # creates the database too
    async with AsyncExitStack() as stack:
        gateway = await start(stack, tmp_path)
        admin = {"Authorization": f"Bearer {(tmp_path / 'admin.key').read_text().strip()}"}
        async with httpx.AsyncClient(base_url=gateway, headers=admin, timeout=30) as client:
            stakeholder = await client.post("/integration/stakeholders", json={
                "kind": "hotel", "name": "Hotel Schema", "country": "HR", "city": "Rijeka"})
            segment = await client.post("/segmentation/segments", json=SEGMENTS[0])
            key = await client.post("/gateway/keys", json={"name": "back office", "role": "staff"})
            assert [r.status_code for r in (stakeholder, segment, key)] == [201, 201, 201], segment.text

    await asyncio.to_thread(migrate_components, COMPONENT_NAMES, tmp_path)  # the restart: at head already
    async with AsyncExitStack() as stack:
        gateway = await start(stack, tmp_path)
        async with httpx.AsyncClient(base_url=gateway, timeout=30,
                                     headers={"Authorization": f"Bearer {key.json()['key']}"}) as client:
            r = await client.get(f"/integration/stakeholders/{stakeholder.json()['id']}")
            assert r.status_code == 200 and r.json()["name"] == "Hotel Schema"
            r = await client.get(f"/segmentation/segments/{segment.json()['id']}")
            assert r.status_code == 200 and r.json()["name"] == SEGMENTS[0]["name"]

    found = await tables(database)
    assert set(found) == set(COMPONENT_NAMES)  # nothing in public
    for component in COMPONENT_NAMES:
        assert {"alembic_version", "outbox_events", "idempotency_records"} <= found[component]
    assert {"stakeholders", "capacity", "packages", "fx_table"} <= found["integration"]
    assert "segments" in found["segmentation"] and "api_keys" in found["gateway"]
    rows = await _admin("SELECT count(*) AS n FROM gateway.api_keys", database=database)
    assert rows[0]["n"] == 2  # the bootstrap admin key and the staff key, in the gateway's schema


async def test_a_database_per_component_keeps_the_public_schema(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENTAD_DATABASE_URL", SERVER + database + "_{service}")
    await asyncio.to_thread(migrate_components, ["segmentation", "integration"], tmp_path)
    for component in ("segmentation", "integration"):
        found = await tables(f"{database}_{component}")
        assert set(found) == {"public"} and "alembic_version" in found["public"]


async def test_a_database_of_its_own_made_before_schemas_keeps_its_tables_where_they_are(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = SERVER + database
    await _admin(f'CREATE DATABASE "{database}"')
    await asyncio.to_thread(migrate.upgrade, "segmentation", url)  # as releases before schemas did
    monkeypatch.setenv("PENTAD_DATABASE_URL", url)  # its own database's URL, no {service}
    await asyncio.to_thread(migrate_components, ["segmentation"], tmp_path)

    settings = Settings(service="segmentation", secret=SECRET, data_dir=tmp_path)
    assert settings.database_schema == "segmentation"
    async with serving(build("segmentation", settings)) as url_of_app:
        async with httpx.AsyncClient(base_url=url_of_app, auth=SignedAs(STAFF), timeout=30) as client:
            r = await client.post("/segments", json=SEGMENTS[1])
            assert r.status_code == 201, r.text
    assert set(await tables(database)) == {"public"}
    rows = await _admin("SELECT name FROM public.segments", database=database)
    assert [row["name"] for row in rows] == [SEGMENTS[1]["name"]]
