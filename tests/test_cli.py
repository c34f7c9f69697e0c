"""The `pentad` command's key and migration subcommands."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from pentad.components import COMPONENT_NAMES
from tests.support import PG_ADMIN_URL, free_port_block

PG = "postgresql+asyncpg://{user}@127.0.0.1:5432/{db}"


def pentad(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, **env})


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    """A start-up failure is one line on stderr, never a traceback."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_migrate_brings_every_database_to_head(tmp_path: Path) -> None:
    r = pentad("migrate", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for component in COMPONENT_NAMES:
        with sqlite3.connect(tmp_path / f"{component}.db") as db:
            tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
            assert {"alembic_version", "outbox_events", "idempotency_records"} <= tables
            assert db.execute("select count(*) from alembic_version").fetchone()[0] == 1


def test_keys_create_prints_a_key_stored_only_hashed(tmp_path: Path) -> None:
    r = pentad("keys", "create", "--role", "provider", "--stakeholder-id", "stk_42", "--name", "clinic",
               "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    key = r.stdout.split()[0]
    assert key.startswith("pk_")
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        rows = db.execute("select role, stakeholder_id, key_hash from api_keys").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("provider", "stk_42")
    assert key not in rows[0][2] and len(rows[0][2]) == 64


def test_keys_create_refuses_an_unbound_provider(tmp_path: Path) -> None:
    r = pentad("keys", "create", "--role", "provider", "--name", "clinic", "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "stakeholder_id" in r.stderr


def test_keys_create_as_the_readme_shows_makes_a_private_data_dir(tmp_path: Path) -> None:
    r = pentad("keys", "create", "--role", "staff", "--name", "back office", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("pk_")
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "gateway.db").stat().st_mode) == 0o600


def test_a_data_dir_open_to_others_gets_a_warning_and_keeps_its_mode(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir()
    data.chmod(0o755)
    r = pentad("migrate", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert warnings == [f"pentad migrate: warning: data dir {data} is open to other users (mode 0755); "
                        f"`chmod 700 {data}` keeps its databases and keys private"]
    assert stat.S_IMODE(data.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in data.glob("*.db")} == {0o600}


@pytest.mark.parametrize("command", ["migrate", "up", "keys"])
def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "file").write_text("")
    data = tmp_path / "file" / "var"
    args = {"migrate": ["migrate"], "up": ["up", "--port", str(free_port_block(7))],
            "keys": ["keys", "create", "--role", "staff", "--name", "x"]}[command]
    r = pentad(*args, "--data-dir", str(data))
    assert r.returncode == 2
    assert one_line(r).startswith(f"pentad {command}: cannot create the data dir {data}: ")


@pytest.mark.parametrize(("url", "says"), [
    ("postgres://u@db/pentad", "use postgresql+asyncpg://... or sqlite+aiosqlite:///..."),
    ("postgresql://postgres@127.0.0.1/pentad", "use postgresql+asyncpg://... or sqlite+aiosqlite:///..."),
    ("no url at all", "is not a database URL"),
    ("sqlite+aiosqlite:////tmp/pentad-one-file.db", "put {service} in a SQLite URL"),
])
def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    for args in (["migrate"], ["up", "--port", str(free_port_block(7))]):
        r = pentad(*args, "--data-dir", str(tmp_path), PENTAD_DATABASE_URL=url)
        assert r.returncode == 2, r.stderr
        line = one_line(r)
        assert line.startswith(f"pentad {args[0]}: PENTAD_DATABASE_URL") and says in line, line


# PostgreSQL: a database and a role of the test's own, dropped afterwards.

def _pg(*statements: str, database: str = "postgres") -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database)
        try:
            rows: list[asyncpg.Record] = []
            for sql in statements:
                rows = await conn.fetch(sql)
            return rows
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture
def pg_names() -> Iterator[tuple[str, str]]:
    """A database name (not created) and a role without CREATEDB, both unique to the test."""
    try:
        _pg("SELECT 1")
    except OSError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unreachable ({exc})")
    run = uuid.uuid4().hex[:8]
    database, role = f"pentad_cli_{run}", f"pentad_cli_role_{run}"
    _pg(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    yield database, role
    _pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{role}"')


def test_one_postgres_url_creates_the_database_and_a_schema_per_component(tmp_path: Path,
                                                                          pg_names: tuple[str, str]) -> None:
    database, _ = pg_names
    url = PG.format(user="postgres", db=database)
    for _ in range(2):  # the second run finds everything at head
        r = pentad("migrate", "--data-dir", str(tmp_path), PENTAD_DATABASE_URL=url)
        assert r.returncode == 0, r.stderr
    rows = _pg("SELECT table_schema, table_name FROM information_schema.tables WHERE table_name IN "
               "('alembic_version', 'outbox_events')", database=database)
    assert sorted((r["table_schema"], r["table_name"]) for r in rows) == sorted(
        (c, t) for c in COMPONENT_NAMES for t in ("alembic_version", "outbox_events"))
    assert not list(tmp_path.iterdir())  # nothing written to the data dir


def test_a_missing_database_the_role_may_not_create_is_one_line(tmp_path: Path,
                                                                pg_names: tuple[str, str]) -> None:
    database, role = pg_names
    for args in (["migrate"], ["up", "--port", str(free_port_block(7))]):
        r = pentad(*args, "--data-dir", str(tmp_path), PENTAD_DATABASE_URL=PG.format(user=role, db=database))
        assert r.returncode == 2
        assert one_line(r) == (f'pentad {args[0]}: database "{database}" does not exist and role "{role}" may '
                               f"not create it; create it with: createdb -h 127.0.0.1 -p 5432 -O {role} {database}")


def test_a_missing_schema_the_role_may_not_create_is_one_line(tmp_path: Path, pg_names: tuple[str, str]) -> None:
    database, role = pg_names
    _pg(f'CREATE DATABASE "{database}"')
    r = pentad("migrate", "--component", "segmentation",
               PENTAD_DATABASE_URL=PG.format(user=role, db=database))
    assert r.returncode == 2
    assert one_line(r) == (f'pentad migrate: schema "segmentation" does not exist in database "{database}" and '
                           f'role "{role}" may not create it; create it with: '
                           f'CREATE SCHEMA segmentation AUTHORIZATION "{role}";')


def test_version_names_the_installed_release() -> None:
    from importlib.metadata import version

    r = pentad("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"pentad {version('pentad')}"


def test_keys_list_shows_active_keys_without_their_secret_and_revoke_ends_one(tmp_path: Path) -> None:
    made = [pentad("keys", "create", "--role", role, "--name", name, "--data-dir", str(tmp_path))
            for role, name in (("staff", "back office"), ("admin", "ops desk"))]
    keys = [r.stdout.split()[0] for r in made]
    ids = [r.stdout.split("(id ")[1].split(",")[0] for r in made]
    listed = pentad("keys", "list", "--data-dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "ROLE", "STAKEHOLDER", "PREFIX"]
    assert [line.split()[:2] for line in lines[1:]] == [[ids[0], "staff"], [ids[1], "admin"]]
    assert lines[1].endswith("back office") and not any(key in listed.stdout for key in keys)

    r = pentad("keys", "revoke", ids[0], "--data-dir", str(tmp_path))
    assert r.returncode == 0 and ids[0] in r.stdout
    assert [line.split()[0] for line in pentad("keys", "list", "--data-dir", str(tmp_path)).stdout.splitlines()[1:]
            ] == [ids[1]]
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        assert db.execute("select revoked_at is not null from api_keys where id = ?", (ids[0],)).fetchone() == (1,)
    again = pentad("keys", "revoke", ids[0], "--data-dir", str(tmp_path))
    assert again.returncode == 2 and f"no active key {ids[0]!r}" in again.stderr
