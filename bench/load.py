"""Mixed, realistic traffic through the gateway against `pentad up`, on SQLite and PostgreSQL.

    python bench/load.py [--db sqlite|postgresql|both] [--duration 60]

Starts `pentad up` (demo loaded) as real processes, issues keys, then for ``--duration``
seconds runs, each on its own key and on a fixed schedule (open loop: a late request is
sent at once, not skipped):

- 8 facilitators, each reading segments (by market), packages and stakeholders in turn,
  one request every 0.5 s (16 reads/s);
- 4 provider systems, each posting a 500-row capacity batch with an ``Idempotency-Key``
  every 4 s (1 batch/s, 500 rows/s);
- 2 staff writers, each creating or patching (with ``If-Match``) a segment or a package in
  turn, one every second (2 writes/s).

Prints requests by kind, the achieved rate, p50/p99 latency per kind and the errors; exits
non-zero on any error (a 5xx, an unexpected 4xx or a broken connection).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pentad.components import COMPONENT_NAMES  # noqa: E402
from tests.support import free_port_block  # noqa: E402

PG = os.environ.get("PENTAD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SPECIALTIES = ["orthopaedics", "cardiology", "rehabilitation", "ophthalmology", "checkups"]
ROWS, DAYS = 500, 700  # a batch: 5 specialties x 100 days, sliding over the provider's horizon


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)

    async def timed(self, kind: str, call: Awaitable[httpx.Response], expect: tuple[int, ...]) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = await call
        except httpx.HTTPError as exc:
            self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        self.latencies[kind].append(time.perf_counter() - start)
        if r.status_code not in expect:
            self.errors.append(f"{kind}: {r.status_code} {r.text[:300]}")
            return None
        return r


async def every(interval: float, until: float, offset: float, step: Callable[[int], Awaitable[None]]) -> None:
    """Call ``step(i)`` on a fixed schedule until ``until`` (monotonic)."""
    start = time.monotonic() + offset
    i = 0
    while (due := start + i * interval) < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await step(i)
        i += 1


class Platform:
    """`pentad up` on a fresh data directory (and fresh PostgreSQL databases if asked)."""

    def __init__(self, db: str, tmp: Path) -> None:
        self.db, self.port = db, free_port_block(7)
        self.url = f"http://127.0.0.1:{self.port}"
        self.data, self.log = tmp / "var", tmp / "up.log"
        self.run = uuid.uuid4().hex[:8]
        self.dbs = [f"pentad_load_{self.run}_{c}" for c in COMPONENT_NAMES] if db == "postgresql" else []
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Platform:
        env = {**os.environ, "PENTAD_LOG_FORMAT": "json"}
        if self.dbs:
            await self._pg(*(f'CREATE DATABASE "{d}"' for d in self.dbs))
            env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_load_{self.run}_{{service}}"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "up", "--port", str(self.port),
                                          "--data-dir", str(self.data)], stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=ROOT)
        deadline = time.monotonic() + 120
        while "Pentad is up" not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"pentad up did not come up:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dbs:
            await self._pg(*(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in self.dbs))

    async def _pg(self, *statements: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(PG + "/postgres")
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    if r.status_code != 201:
        raise SystemExit(f"setup {path}: {r.status_code} {r.text}")
    return r.json()


async def setup(url: str, admin_key: str, args: argparse.Namespace) -> dict[str, Any]:
    """Stakeholders and keys: one per facilitator, provider and staff writer."""
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as a:
        async def bound(role: str, kind: str, i: int, specialties: list[str]) -> tuple[str, str]:
            who = await _post(a, "/integration/stakeholders", {"kind": kind, "name": f"Load {kind} {tag} {i}",
                                                               "country": "HR", "city": "Rijeka",
                                                               "specialties": specialties})
            key = await _post(a, "/gateway/keys", {"name": f"load {role} {i}", "role": role,
                                                   "stakeholder_id": who["id"]})
            return who["id"], key["key"]

        providers = [await bound("provider", "hospital", i, SPECIALTIES) for i in range(args.providers)]
        facilitators = [await bound("facilitator", "facilitator", i, []) for i in range(args.facilitators)]
        staff = [(await _post(a, "/gateway/keys", {"name": f"load staff {i}", "role": "staff"}))["key"]
                 for i in range(args.staff)]
    return {"providers": providers, "facilitators": [k for _, k in facilitators], "staff": staff, "tag": tag}


def client(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                             limits=httpx.Limits(max_connections=4))


async def facilitator(url: str, key: str, stats: Stats, until: float, offset: float, interval: float) -> None:
    reads = [("read segments", "/segmentation/segments", {"market": "GB"}),
             ("read packages", "/integration/packages", {"limit": 50}),
             ("read stakeholders", "/integration/stakeholders", {"limit": 50})]
    async with client(url, key) as c:
        async def step(i: int) -> None:
            kind, path, params = reads[i % len(reads)]
            await stats.timed(kind, c.get(path, params=params), (200,))
        await every(interval, until, offset, step)


def batch(i: int, provider: int) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    first = 1 + (i * 37 + provider * 11) % (DAYS - ROWS // len(SPECIALTIES))
    return [{"specialty": s, "date": (today + timedelta(days=first + d)).isoformat(),
             "slots_total": 10, "slots_available": (i + d) % 10}
            for d in range(ROWS // len(SPECIALTIES)) for s in SPECIALTIES]


async def provider(url: str, n: int, who: tuple[str, str], stats: Stats, until: float, offset: float,
                   interval: float) -> None:
    stakeholder, key = who
    async with client(url, key) as c:
        async def step(i: int) -> None:
            r = await stats.timed("post capacity (500 rows)", c.post(
                f"/integration/stakeholders/{stakeholder}/capacity", json={"rows": batch(i, n)},
                headers={"Idempotency-Key": f"load-{stakeholder}-{i}"}), (200,))
            if r is not None and r.json()["rejected"]:
                stats.errors.append(f"capacity rejected rows: {r.json()['rejected'][:2]}")
        await every(interval, until, offset, step)


async def staff(url: str, n: int, key: str, hospital: str, tag: str, stats: Stats, until: float, offset: float,
                interval: float) -> None:
    mine: dict[str, tuple[str, str]] = {}  # kind -> (id, etag) of the last one made

    async def create(c: httpx.AsyncClient, kind: str, i: int) -> None:
        path, body = (("/segmentation/segments", {
            "name": f"Load segment {tag} {n}.{i}", "family": "medical", "specialties": ["orthopaedics"],
            "source_markets": ["GB"], "payer_types": ["self_pay"], "motivation": "want_to",
            "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 5}}) if kind == "segment" else
            ("/integration/packages", {"name": f"Load package {tag} {n}.{i}", "specialty": "orthopaedics",
                                       "components": [{"kind": "treatment", "stakeholder_id": hospital,
                                                       "description": "Knee", "price": {"amount": "4100.00",
                                                                                        "currency": "EUR"}}]}))
        r = await stats.timed(f"create {kind}", c.post(path, json=body,
                                                       headers={"Idempotency-Key": uuid.uuid4().hex}), (201,))
        if r is not None:
            mine[kind] = (r.json()["id"], r.headers["etag"])

    async def patch(c: httpx.AsyncClient, kind: str, i: int) -> None:
        ident, etag = mine[kind]
        path = f"/segmentation/segments/{ident}" if kind == "segment" else f"/integration/packages/{ident}"
        r = await stats.timed(f"patch {kind}", c.patch(path, json={"name": f"Load {kind} {tag} {n}.{i} (renamed)"},
                                                       headers={"If-Match": etag}), (200,))
        if r is not None:
            mine[kind] = (ident, r.headers["etag"])

    async with client(url, key) as c:
        async def step(i: int) -> None:
            kind = ("segment", "package")[(i // 2) % 2]
            await (patch if i % 2 and kind in mine else create)(c, kind, i)
        await every(interval, until, offset, step)


def report(db: str, stats: Stats, elapsed: float, args: argparse.Namespace) -> None:
    total = sum(len(v) for v in stats.latencies.values())
    print(f"\n== load on {db}: {args.facilitators} facilitators every {args.read_interval}s, {args.providers} "
          f"providers posting {ROWS} rows every {args.batch_interval}s, {args.staff} staff writers every "
          f"{args.write_interval}s; {elapsed:.1f}s")
    print(f"{'kind':<28}{'requests':>9}{'rate/s':>9}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, lat in sorted(stats.latencies.items()):
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
        print(f"{kind:<28}{len(lat):>9}{len(lat) / elapsed:>9.2f}{q[49] * 1000:>10.1f}{q[98] * 1000:>10.1f}")
    print(f"{'total':<28}{total:>9}{total / elapsed:>9.2f}   errors: {len(stats.errors)}")
    for line in stats.errors[:20]:
        print("  error:", line)


async def run(db: str, args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory(prefix=f"pentad-load-{db}-") as tmp:
        async with Platform(db, Path(tmp)) as up:
            admin = (up.data / "admin.key").read_text().strip()
            who = await setup(up.url, admin, args)
            stats = Stats()
            start = time.monotonic()
            until = start + args.duration
            tasks = [facilitator(up.url, k, stats, until, i * args.read_interval / len(who["facilitators"]),
                                 args.read_interval) for i, k in enumerate(who["facilitators"])]
            tasks += [provider(up.url, i, p, stats, until, i * args.batch_interval / len(who["providers"]),
                               args.batch_interval) for i, p in enumerate(who["providers"])]
            tasks += [staff(up.url, i, k, who["providers"][0][0], who["tag"], stats, until,
                            i * args.write_interval / len(who["staff"]), args.write_interval)
                      for i, k in enumerate(who["staff"])]
            await asyncio.gather(*tasks)
            report(db, stats, time.monotonic() - start, args)
            return not stats.errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--facilitators", type=int, default=8)
    ap.add_argument("--read-interval", type=float, default=0.5)
    ap.add_argument("--providers", type=int, default=4)
    ap.add_argument("--batch-interval", type=float, default=4.0)
    ap.add_argument("--staff", type=int, default=2)
    ap.add_argument("--write-interval", type=float, default=1.0)
    args = ap.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    ok = [asyncio.run(run(db, args)) for db in dbs]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
