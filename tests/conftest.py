"""Every database test runs on SQLite and on PostgreSQL (``db_backend`` parameter).

With ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pentad.logging import configure_logging
from tests.pillars import integ, pair, seg  # noqa: F401 - fixtures shared by the pillar tests
from tests.support import PG_ADMIN_URL, DatabaseFactory

configure_logging(service="tests", fmt="json", level="info", cache=False)


async def _pg_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def pg_or_skip() -> None:
    """Skip a PostgreSQL test when the server is unreachable (fail instead in CI)."""
    if why := await _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {PG_ADMIN_URL}: {why}")
        pytest.skip(f"PostgreSQL unreachable ({why})")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> AsyncIterator[DatabaseFactory]:
    backend = request.param
    if backend == "postgresql":
        await pg_or_skip()
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield factory
    if backend == "postgresql":
        await factory.drop_all()


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


_REPORT: list[str] = []


@pytest.fixture
def faults_report() -> Callable[[str], None]:
    """A line for the run's summary (figures a proof measured), shown even under ``-q``."""
    return _REPORT.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        terminalreporter.section("proofs")
        for line in _REPORT:
            terminalreporter.write_line(line)
