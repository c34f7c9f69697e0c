"""The `pentad` command's key and migration subcommands."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from pentad.components import COMPONENT_NAMES


def pentad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher.cli", *args], capture_output=True, text=True,
                          timeout=120)


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
