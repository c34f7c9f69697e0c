"""End to end: `pentad up` as real processes on free ports, driven through the gateway."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from pentad.components import COMPONENT_NAMES, SERVICE_NAMES
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
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port = _port_block()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "var"
        self.log_path = tmp / "up.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "launcher.cli", "up", "--port", str(self.port), "--data-dir", str(self.data)],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **env})

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
        return self.proc.returncode


@pytest.fixture(params=["sqlite", "postgresql"])
def up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Up]:
    env = {"PENTAD_LOG_FORMAT": "json"}
    dbs: list[str] = []
    if request.param == "postgresql":
        run = uuid.uuid4().hex[:8]
        dbs = [f"pentad_e2e_{run}_{c}" for c in COMPONENT_NAMES]
        _pg(*(f'CREATE DATABASE "{d}"' for d in dbs))
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_e2e_{run}_{{service}}"
    started = Up(tmp_path, env)
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


def test_pentad_up_serves_everything_through_the_gateway(up: Up) -> None:
    assert _wait(lambda: _healthy(up.url), within=30), up.log_path.read_text()[-3000:]
    health = httpx.get(up.url + "/health").json()
    assert set(health["services"]) == set(SERVICE_NAMES)
    assert all(s["status"] == "ok" for s in health["services"].values())

    key_file = up.data / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    admin = {"Authorization": f"Bearer {key_file.read_text().strip()}"}

    r = httpx.get(up.url + "/segmentation/events", headers={**admin, "X-Request-ID": "e2e-rid-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "e2e-rid-1"
    assert _wait(lambda: {line.get("service") for line in up.log_lines()
                          if line.get("request_id") == "e2e-rid-1"} == {"gateway", "segmentation"}, within=5)

    assert httpx.get(up.url + "/segmentation/events").status_code == 401
    _assert_demo_loaded(up.url, admin)
    direct = httpx.get(f"http://127.0.0.1:{up.port + 1}/events", headers=admin)
    assert direct.status_code == 401 and direct.headers["content-type"] == "application/problem+json"


def _demo_counts(url: str, headers: dict[str, str]) -> tuple[int, int, int]:
    segments = httpx.get(url + "/segmentation/segments", params={"limit": 500}, headers=headers).json()["items"]
    stakeholders = httpx.get(url + "/integration/stakeholders", params={"limit": 500}, headers=headers).json()["items"]
    packages = httpx.get(url + "/integration/packages", params={"limit": 500}, headers=headers).json()["items"]
    return len(segments), len(stakeholders), sum(p["status"] == "published" for p in packages)


def _assert_demo_loaded(url: str, headers: dict[str, str]) -> None:
    from services.integration.demo import STAKEHOLDERS
    from services.segmentation.demo import SEGMENTS

    # `pentad up` prints its banner after the demo is in; poll briefly for it.
    assert _wait(lambda: _demo_counts(url, headers) == (len(SEGMENTS), len(STAKEHOLDERS), 3), within=20), \
        _demo_counts(url, headers)
    assert _wait(lambda: _development_counts(url, headers) == (2, 3 * len(SEGMENTS)), within=20), \
        _development_counts(url, headers)


def _development_counts(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Initiatives, and points of the three past assessments (one per segment each)."""
    initiatives = httpx.get(url + "/development/initiatives", params={"limit": 500}, headers=headers).json()
    points = httpx.get(url + "/development/assessments", params={"limit": 500}, headers=headers).json()
    return len(initiatives["items"]), len(points["items"])


def test_a_second_pentad_up_does_not_load_the_demo_twice(tmp_path: Path) -> None:
    first = Up(tmp_path, {"PENTAD_LOG_FORMAT": "json"})
    try:
        assert _wait(lambda: _healthy(first.url), within=30)
        admin = {"Authorization": f"Bearer {(first.data / 'admin.key').read_text().strip()}"}
        _assert_demo_loaded(first.url, admin)
    finally:
        assert first.stop() == 0
    second = Up(tmp_path, {"PENTAD_LOG_FORMAT": "json"})
    try:
        assert _wait(lambda: _healthy(second.url), within=30)
        assert _wait(lambda: "Pentad is up" in second.log_path.read_text(), within=30)
        _assert_demo_loaded(second.url, admin)
    finally:
        second.stop()


def test_pentad_up_restarts_a_crashed_service_and_stops_cleanly(up: Up) -> None:
    assert _wait(lambda: _healthy(up.url), within=30), up.log_path.read_text()[-3000:]
    children = _children(up.proc.pid)
    assert set(children) == {*SERVICE_NAMES, "gateway"}
    os.kill(children["integration"], signal.SIGKILL)
    assert _wait(lambda: _children(up.proc.pid).get("integration") not in (None, children["integration"]),
                 within=15), (children, _children(up.proc.pid), up.log_path.read_text()[-3000:])
    assert _wait(lambda: _healthy(up.url), within=30)
    assert any(line.get("event") == "up.restart" and line.get("component") == "integration"
               for line in up.log_lines())

    assert up.stop() == 0
    assert _children(up.proc.pid) == {}
    assert all(_free(up.port + i) for i in range(7))
