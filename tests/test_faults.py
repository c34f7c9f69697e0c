"""Faults (issue 6): `pentad up` as real processes, SIGKILLed in turn while clients write.

Writers create stakeholders (Integration), segments (Segmentation) and post capacity
batches, each with an ``Idempotency-Key``, retrying the same request with back-off on a 5xx
or a broken connection until it is acknowledged. Meanwhile we SIGKILL each service's process
in turn, then the gateway, then the whole tree (the supervisor and every child) and start
``pentad up`` again on the same data directory. Afterwards every acknowledged write is
there exactly once, and each feed has increasing ``seq`` and one creation event per record.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pentad.components import SERVICE_NAMES
from tests.conftest import pg_or_skip
from tests.support import free_port_block
from tests.test_e2e_up import _children, _free, _pg

pytestmark = pytest.mark.e2e

SPECIALTY = "orthopaedics"
BATCH_ROWS, HOSPITALS = 50, 4  # each batch covers its own 50 days of one hospital
RETRYABLE = (httpx.TransportError,)


class Tree:
    """One `pentad up` (no demo unless asked) on a fixed port and data directory; restartable."""

    def __init__(self, tmp: Path, env: dict[str, str], *, backend: str, demo: bool = False) -> None:
        self.backend, self.demo = backend, demo
        self.port = free_port_block(7)
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "var"
        self.env = {**os.environ, "PENTAD_LOG_FORMAT": "json", **env}
        self.log_path = tmp / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "launcher.cli", "up", "--port", str(self.port), "--data-dir", str(self.data),
                 "--demo" if self.demo else "--no-demo"], stdout=log, stderr=subprocess.STDOUT, env=self.env)

    def children(self) -> dict[str, int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    def kill_tree(self) -> None:
        """SIGKILL the supervisor and, before they can exit on their own, every child."""
        assert self.proc is not None
        children = self.children()
        self.proc.kill()
        for pid in children.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.fixture(params=["sqlite", "postgresql"])
async def tree(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Tree]:
    env: dict[str, str] = {}
    dbs: list[str] = []
    if request.param == "postgresql":
        await pg_or_skip()
        from pentad.components import COMPONENT_NAMES

        run = uuid.uuid4().hex[:8]
        dbs = [f"pentad_faults_{run}_{c}" for c in COMPONENT_NAMES]
        await asyncio.to_thread(_pg, *(f'CREATE DATABASE "{d}"' for d in dbs))
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_faults_{run}_{{service}}"
    up = Tree(tmp_path, env, backend=request.param)
    up.start()
    yield up
    # A clean stop is test_e2e_up's proof; here it would only wait for graceful shutdowns.
    if up.proc is not None and up.proc.poll() is None:
        up.kill_tree()
    if dbs:
        await asyncio.to_thread(_pg, *(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in dbs))


async def _until(predicate: Callable[[], Any], within: float, what: str, tree: Tree) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what} not within {within}s\n{tree.tail()}")


async def _healthy(client: httpx.AsyncClient) -> bool:
    try:
        r = await client.get("/health", timeout=3)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and all(s["status"] == "ok" for s in r.json()["services"].values())


@dataclass
class Write:
    kind: str  # stakeholder, segment, capacity
    path: str
    body: dict[str, Any]
    idem_key: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex}")
    attempts: int = 0
    replayed: bool = False  # the answer came from the idempotency record: the first try had landed
    answer: dict[str, Any] | None = None  # the acknowledged (2xx) answer


@dataclass
class Writers:
    """Clients that write through the gateway and retry until acknowledged."""

    client: httpx.AsyncClient
    tag: str
    hospitals: list[str]
    writes: list[Write] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, write: Write) -> None:
        delay = 0.1
        while True:
            write.attempts += 1
            try:
                r = await self.client.post(write.path, json=write.body, headers={"Idempotency-Key": write.idem_key})
            except RETRYABLE:
                r = None
            if r is not None and r.status_code < 500:
                assert r.status_code in (200, 201), (write.kind, r.status_code, r.text)
                write.answer = r.json()
                write.replayed = r.headers.get("idempotent-replayed") == "true"
                return
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def loop(self, make: Iterator[Write]) -> None:
        for write in make:
            if self.stopping.is_set():
                return
            self.writes.append(write)
            await self.send(write)

    def acked(self, kind: str) -> list[Write]:
        return [w for w in self.writes if w.kind == kind and w.answer is not None]

    def stakeholders(self) -> Iterator[Write]:
        for i in range(10_000):
            yield Write("stakeholder", "/integration/stakeholders", {
                "kind": "hotel", "name": f"Fault hotel {self.tag} {i}", "country": "HR", "city": "Opatija"})

    def segments(self) -> Iterator[Write]:
        for i in range(10_000):
            yield Write("segment", "/segmentation/segments", {
                "name": f"Fault segment {self.tag} {i}", "family": "medical", "specialties": [SPECIALTY],
                "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to",
                "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}})

    def capacity(self) -> Iterator[Write]:
        today = datetime.now(UTC).date()
        for window in range(700 // BATCH_ROWS):
            for hospital in self.hospitals:
                first = today + timedelta(days=1 + window * BATCH_ROWS)
                yield Write("capacity", f"/integration/stakeholders/{hospital}/capacity", {"rows": [
                    {"specialty": SPECIALTY, "date": (first + timedelta(days=d)).isoformat(),
                     "slots_total": 9, "slots_available": window % 9} for d in range(BATCH_ROWS)]})


async def _kill_then_recover(tree: Tree, writers: Writers, fault: str) -> None:
    """Wait for a few new acknowledgements, inject ``fault``, wait until healthy again."""
    before = sum(w.answer is not None for w in writers.writes)
    await _until(lambda: _more(writers, before + 6), 60, f"writes before {fault}", tree)
    if fault == "tree":
        tree.kill_tree()
        await _until(lambda: _ports_free(tree), 20, "ports free after the tree died", tree)
        tree.start()
    else:
        os.kill(tree.children()[fault], signal.SIGKILL)
    await _until(lambda: _healthy(writers.client), 90, f"health after killing {fault}", tree)


async def _more(writers: Writers, n: int) -> bool:
    return sum(w.answer is not None for w in writers.writes) >= n


async def _ports_free(tree: Tree) -> bool:
    return all(_free(tree.port + i) for i in range(7))


async def _all(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    key = "after" if path.endswith("/events") else "cursor"
    while True:
        query = {**params, "limit": 500, **({key: cursor} if cursor else {})}
        page = (await client.get(path, params=query)).raise_for_status().json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = page["items"][-1]["seq"] if key == "after" else page["next_cursor"]


def _check_feed(events: list[dict[str, Any]], created: str, acked_ids: list[str]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "seq must strictly increase"
    assert len({e["id"] for e in events}) == len(events), "an event id appears twice"
    per_subject = Counter(e["subject"] for e in events if e["type"] == created)
    assert [s for s, n in per_subject.items() if n > 1] == [], f"a record with more than one {created}"
    assert all(per_subject[i] == 1 for i in acked_ids), f"an acknowledged record without its {created}"


async def _verify(client: httpx.AsyncClient, writers: Writers) -> int:
    verified = 0
    for kind, path, created, prefix in (("stakeholder", "/integration/stakeholders", "stakeholder.registered",
                                         "/integration"),
                                        ("segment", "/segmentation/segments", "segment.created", "/segmentation")):
        listed = Counter(r["name"] for r in await _all(client, path) if writers.tag in r["name"])
        acked = writers.acked(kind)
        assert [n for n, c in listed.items() if c > 1] == [], f"a {kind} written twice"
        assert all(listed[w.body["name"]] == 1 for w in acked), f"an acknowledged {kind} is missing"
        ids = [w.answer["id"] for w in acked if w.answer]
        _check_feed(await _all(client, f"{prefix}/events", after=0), created, ids)
        verified += len(acked)
    return verified + await _verify_capacity(client, writers)


async def _verify_capacity(client: httpx.AsyncClient, writers: Writers) -> int:
    """Every acknowledged batch's rows read back, and its ``capacity.updated`` is there once."""
    events = [e for e in await _all(client, "/integration/events", after=0) if e["type"] == "capacity.updated"]
    batches = Counter((e["subject"], e["data"]["from"]) for e in events)
    acked = writers.acked("capacity")
    for w in acked:
        hospital, rows = w.path.split("/")[3], w.body["rows"]
        got = (await client.get(f"/integration/stakeholders/{hospital}/capacity", params={
            "specialty": SPECIALTY, "from": rows[0]["date"], "to": rows[-1]["date"], "limit": 500})
               ).raise_for_status().json()["items"]
        assert {(r["date"], r["slots_available"]) for r in got} == {
            (r["date"], r["slots_available"]) for r in rows}, f"batch {w.idem_key} not stored"
        assert batches[(hospital, rows[0]["date"])] == 1, f"batch {w.idem_key}: one capacity.updated, not " \
            f"{batches[(hospital, rows[0]['date'])]}"
    assert max(batches.values(), default=0) <= 1, "a retried batch recorded twice"
    return len(acked)


async def _setup(client: httpx.AsyncClient, tag: str) -> list[str]:
    hospitals = []
    for i in range(HOSPITALS):
        r = await client.post("/integration/stakeholders", json={
            "kind": "hospital", "name": f"Fault hospital {tag} {i}", "country": "HR", "city": "Rijeka",
            "specialties": [SPECIALTY]})
        assert r.status_code == 201, r.text
        hospitals.append(r.json()["id"])
    return hospitals


async def test_acknowledged_writes_survive_killed_processes_exactly_once(
        tree: Tree, faults_report: Callable[[str], None]) -> None:
    async with httpx.AsyncClient(base_url=tree.url, timeout=15) as probe:
        await _until(lambda: _healthy(probe), 60, "first health", tree)
    admin_key = (tree.data / "admin.key").read_text().strip()
    async with httpx.AsyncClient(base_url=tree.url, timeout=15,
                                 headers={"Authorization": f"Bearer {admin_key}"}) as client:
        tag = uuid.uuid4().hex[:8]
        writers = Writers(client, tag, await _setup(client, tag))
        tasks = [asyncio.create_task(writers.loop(make())) for make in
                 (writers.stakeholders, writers.segments, writers.capacity)]
        faults = (*SERVICE_NAMES, "gateway", "tree")  # each service in turn, the gateway, everything
        try:
            for fault in faults:
                await _kill_then_recover(tree, writers, fault)
            acked_so_far = sum(w.answer is not None for w in writers.writes)
            await _until(lambda: _more(writers, acked_so_far + 6), 60, "writes after the last fault", tree)
        finally:
            writers.stopping.set()
            # Every write in flight is retried to its acknowledgement; give it the time to get there.
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
        assert all(w.answer is not None for w in writers.writes)
        verified = await _verify(client, writers)
    retried = sum(w.attempts > 1 for w in writers.writes)
    replayed = sum(w.replayed for w in writers.writes)
    acked = len(writers.writes)
    assert verified == acked
    faults_report(f"faults[{tree.backend}]: {len(faults)} faults injected ({', '.join(faults)}), "
                  f"{acked} writes acknowledged, {verified} verified exactly once, "
                  f"{retried} needed a retry ({replayed} of them answered by replay)")
