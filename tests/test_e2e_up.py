"""End to end: `pentad up` as real processes on free ports, driven through the gateway."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from pentad.components import COMPONENT_NAMES, SERVICE_NAMES
from tests.console_support import PAGES
from tests.support import PG_ADMIN_URL, free_port_block

pytestmark = pytest.mark.e2e


def _port_block() -> int:
    return free_port_block(7)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _children(pid: int) -> dict[str, int]:
    """The component each child process of ``pid`` runs."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"launcher.serve" in argv:
            found[argv[argv.index(b"launcher.serve") + 1].decode()] = int(entry.name)
    return found


def _wait(predicate, within: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Up:
    """``pentad up`` as a child process: JSON logs on stdout, the summary on stderr."""

    def __init__(self, tmp: Path, env: dict[str, str], *args: str, port: int | None = None) -> None:
        self.port = port or _port_block()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "var"
        self.databases: list[str] = []  # PostgreSQL databases to drop afterwards
        self.log_path = tmp / "up.log"
        self.err_path = tmp / "up.err"
        self._log = self.log_path.open("wb")
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher.cli", "up", "--port", str(self.port), "--data-dir", str(self.data),
             *args], stdout=self._log, stderr=self._err, env={**os.environ, **env})

    def err(self) -> str:
        return self.err_path.read_text()

    def is_up(self) -> bool:
        """It said so: on stderr (where the summary goes), or anywhere in its output."""
        return "Pentad is up" in self.err() + self.log_path.read_text()

    def tail(self) -> str:
        return self.err() + self.log_path.read_text()[-3000:]

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self._log.close()
        self._err.close()
        return self.proc.returncode


# "pg-one": every component in ONE database that `pentad up` creates itself, a schema each;
# "pg-each": the `{service}` template, a database per component (public schema), made beforehand.
@pytest.fixture(params=["sqlite", "pg-one", "pg-each"])
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    env = {"PENTAD_LOG_FORMAT": "json"}
    run = uuid.uuid4().hex[:8]
    dbs: list[str] = []
    if request.param == "pg-one":
        dbs = [f"pentad_e2e_{run}"]
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbs[0]}"
    elif request.param == "pg-each":
        dbs = [f"pentad_e2e_{run}_{c}" for c in COMPONENT_NAMES]
        _pg(*(f'CREATE DATABASE "{d}"' for d in dbs))
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_e2e_{run}_{{service}}"
    started = Up(tmp_path, env)
    started.databases = dbs
    yield started
    started.stop()
    if dbs:
        _pg(*(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in dbs))


def _pg(*statements: str) -> None:
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.mark.parametrize("up", ["sqlite", "pg-one"], indirect=True)
def test_pentad_up_serves_everything_through_the_gateway(up: Up) -> None:
    assert _wait(lambda: "Pentad is up" in up.err(), within=90), up.tail()
    health = httpx.get(up.url + "/health").json()
    assert set(health["services"]) == set(SERVICE_NAMES)
    assert all(s["status"] == "ok" for s in health["services"].values())

    key_file = up.data / "admin.key"
    assert f"Admin key: {key_file.resolve()}" in up.err()
    assert f"Keys: pentad keys create|list|revoke --data-dir {up.data}" in up.err()  # the summary, on stderr
    # With the JSON logs in a file, the terminal shows the summary and nothing else: it stays in view.
    summary = up.err().strip().splitlines()
    assert len(summary) <= 8 and not any(line.startswith("{") for line in summary), up.err()
    assert sum(1 for _ in up.log_lines()) > 20  # the start-up's own lines went to the file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(up.data.stat().st_mode) == 0o700
    admin = {"Authorization": f"Bearer {key_file.read_text().strip()}"}

    r = httpx.get(up.url + "/segmentation/events", headers={**admin, "X-Request-ID": "e2e-rid-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "e2e-rid-1"
    assert _wait(lambda: {line.get("service") for line in up.log_lines()
                          if line.get("request_id") == "e2e-rid-1"} == {"gateway", "segmentation"}, within=5)

    assert httpx.get(up.url + "/segmentation/events").status_code == 401
    _assert_demo_loaded(up.url, admin)
    assert f"Console: {up.url}/console" in up.err()
    _assert_console_shows_the_demo_scorecard(up.url, key_file.read_text().strip())
    direct = httpx.get(f"http://127.0.0.1:{up.port + 1}/events", headers=admin)
    assert direct.status_code == 401 and direct.headers["content-type"] == "application/problem+json"
    if up.databases:  # one database: each component's tables, and its Alembic version, in its own schema
        tables = _pg_tables(up.databases[0])
        for component in COMPONENT_NAMES:
            assert {"alembic_version", "outbox_events", "idempotency_records"} <= tables[component], component
        assert {"stakeholders", "capacity"} <= tables["integration"] and "segments" in tables["segmentation"]
        assert "api_keys" in tables["gateway"] and "public" not in tables
    else:  # SQLite files are the owner's alone
        assert {stat.S_IMODE(p.stat().st_mode) for p in up.data.glob("*.db")} == {0o600}


def _assert_console_shows_the_demo_scorecard(url: str, key: str) -> None:
    """`make run`, then /console: signed in with the admin key, the demo's scorecard and its chart."""
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.get("/console").headers["location"] == "/console/login"
        form = c.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert csrf, form.text
        signed = c.post("/console/login", data={"key": key, "csrf": csrf.group(1)},
                        headers={"cookie": "pentad_console_login=" + form.cookies["pentad_console_login"]})
        assert signed.status_code == 303, signed.text
        session = {"cookie": "pentad_console=" + signed.cookies["pentad_console"]}
        page = c.get("/console", headers=session)
        assert page.status_code == 200, page.text
        assert '<svg id="pillar-chart"' in page.text and "Broad-brush index" in page.text
        assert re.search(r"<dt[^>]*>Segments</dt><dd>5</dd>", page.text), "the demo's five segments"
        for path in PAGES[1:]:  # every other page renders the demo too
            other = c.get(path, headers=session)
            assert other.status_code == 200 and "The API refused" not in other.text, (path, other.text[:2000])


def _pg_tables(database: str) -> dict[str, set[str]]:
    import asyncio

    async def run() -> dict[str, set[str]]:
        conn = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database)
        try:
            rows = await conn.fetch("SELECT table_schema, table_name FROM information_schema.tables "
                                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
        finally:
            await conn.close()
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["table_schema"], set()).add(row["table_name"])
        return found

    return asyncio.run(run())


def _demo_counts(url: str, headers: dict[str, str]) -> tuple[int, int, int]:
    segments = httpx.get(url + "/segmentation/segments", params={"limit": 500}, headers=headers).json()["items"]
    stakeholders = httpx.get(url + "/integration/stakeholders", params={"limit": 500}, headers=headers).json()["items"]
    packages = httpx.get(url + "/integration/packages", params={"limit": 500}, headers=headers).json()["items"]
    return len(segments), len(stakeholders), sum(p["status"] == "published" for p in packages)


def _assert_demo_loaded(url: str, headers: dict[str, str]) -> None:
    from services.dmo.demo import ONBOARDED
    from services.integration.demo import STAKEHOLDERS
    from services.segmentation.demo import SEGMENTS

    # `pentad up` prints its banner after the demo is in; poll briefly for it.
    assert _wait(lambda: _demo_counts(url, headers) == (len(SEGMENTS), len(STAKEHOLDERS) + ONBOARDED, 3), within=20), \
        _demo_counts(url, headers)
    assert _wait(lambda: _development_counts(url, headers) == (2, 3 * len(SEGMENTS)), within=20), \
        _development_counts(url, headers)


def _development_counts(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Initiatives, and points of the three past assessments (one per segment each)."""
    initiatives = httpx.get(url + "/development/initiatives", params={"limit": 500}, headers=headers).json()
    points = httpx.get(url + "/development/assessments", params={"limit": 500}, headers=headers).json()
    return len(initiatives["items"]), len(points["items"])


def _admin(up: Up) -> dict[str, str]:
    return {"Authorization": f"Bearer {(up.data / 'admin.key').read_text().strip()}"}


def _sqlite(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_restarts_never_change_or_duplicate_what_a_user_has(tmp_path: Path) -> None:
    # Retention shrunk to nothing: each start's sweep forgets the demo's replay records.
    env = {"PENTAD_LOG_FORMAT": "json", "PENTAD_IDEMPOTENCY_RETENTION_HOURS": "0"}
    first = Up(tmp_path, env)
    try:
        assert _wait(first.is_up, within=90), first.tail()
        admin = _admin(first)
        _assert_demo_loaded(first.url, admin)
        fx = httpx.get(first.url + "/integration/fx-rates", headers=admin).json()
        rates = {**fx["rates"], "GBP": "0.9000"}
        r = httpx.put(first.url + "/integration/fx-rates", json={"base": fx["base"], "rates": rates}, headers=admin)
        assert r.status_code == 200, r.text
        ortho = next(s for s in httpx.get(first.url + "/integration/stakeholders", params={"limit": 500},
                                         headers=admin).json()["items"] if s["name"].startswith("Kvarner Ortho"))
        r = httpx.patch(f"{first.url}/integration/stakeholders/{ortho['id']}", json={"name": "Renamed by staff"},
                        headers=admin)
        assert r.status_code == 200, r.text
    finally:
        assert first.stop() == 0
    # A later day: the demo's capacity was last confirmed three weeks ago, so it is stale now.
    integration_db = first.data / "integration.db"
    _sqlite(integration_db, "UPDATE capacity SET confirmed_at = datetime(confirmed_at, '-21 days')")
    confirmed = _sqlite(integration_db, "SELECT max(confirmed_at) FROM capacity")

    second = Up(tmp_path, env)
    try:
        assert _wait(second.is_up, within=90), second.tail()
        fx = httpx.get(second.url + "/integration/fx-rates", headers=admin).json()
        assert fx["rates"]["GBP"] == "0.9000"
        _assert_demo_loaded(second.url, admin)  # the same counts: nothing duplicated
        assert _sqlite(integration_db, "SELECT count(*) FROM idempotency_records") == [(0,)]  # all swept
        r = httpx.get(f"{second.url}/integration/stakeholders/{ortho['id']}", headers=admin)
        assert r.json()["name"] == "Renamed by staff"
        assert _sqlite(integration_db, "SELECT max(confirmed_at) FROM capacity") == confirmed
        assert sum("Demo: already loaded" in line for line in second.err().splitlines()) == 1
    finally:
        assert second.stop() == 0


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Another program on the gateway's port that answers every health check with 200."""

    def do_GET(self) -> None:
        body = b'{"status": "ok", "services": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("busy", [0, 3])
def test_pentad_up_on_a_busy_port_fails_naming_it(tmp_path: Path, busy: int) -> None:
    port = _port_block()
    impostor = http.server.ThreadingHTTPServer(("127.0.0.1", port + busy), _Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        up = Up(tmp_path, {"PENTAD_LOG_FORMAT": "json"}, port=port)
        try:
            returncode = up.proc.wait(60)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            up.stop()
    finally:
        impostor.shutdown()
        impostor.server_close()
    err = up.err()
    assert returncode not in (None, 0), err
    assert "Pentad is up" not in err and "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"pentad up: port {port + busy} on 127.0.0.1 is already in use; stop what holds it or pick "
        f"another --port"], err
    assert _children(up.proc.pid) == {}


@pytest.mark.parametrize("up", ["sqlite", "pg-each"], indirect=True)
def test_pentad_up_restarts_a_crashed_service_and_stops_cleanly(up: Up) -> None:
    assert _wait(lambda: _healthy(up.url), within=30), up.tail()
    children = _children(up.proc.pid)
    assert set(children) == {*SERVICE_NAMES, "gateway"}
    os.kill(children["integration"], signal.SIGKILL)
    assert _wait(lambda: _children(up.proc.pid).get("integration") not in (None, children["integration"]),
                 within=15), (children, _children(up.proc.pid), up.tail())
    assert _wait(lambda: _healthy(up.url), within=30)
    assert any(line.get("event") == "up.restart" and line.get("component") == "integration"
               for line in up.log_lines())

    assert up.stop() == 0
    assert _children(up.proc.pid) == {}
    assert all(_free(up.port + i) for i in range(7))
