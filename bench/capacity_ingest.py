"""Capacity ingest through the gateway against a raw driver, same run, on PostgreSQL and SQLite.

    python bench/capacity_ingest.py [--backends postgresql,sqlite] [--batches 120] [--concurrency 4]

Starts Segmentation, Integration and the gateway as real processes (access lines on) on
fresh databases (PostgreSQL on 127.0.0.1:5432, or PENTAD_BENCH_PG, dropped afterwards;
SQLite files in a temporary directory), registers providers, then posts 10,000-row
batches through the gateway, the way a provider system would: each provider's first batch
inserts, later ones mostly re-confirm what it posted. 120 batches by default (~5 s on
PostgreSQL here; at 40 the run lasted 2 s and its ratio moved by a tenth from run to run).
In the same run it times the raw driver on the same rows:

- PostgreSQL: asyncpg ``copy_records_to_table`` into a scratch table (plain insert, no
  keys): the ceiling a driver gives with no HTTP, JSON, validation or upsert.
  Target: gateway >= 0.25x of it.
- SQLite: the stdlib ``sqlite3`` ``executemany`` of an upsert into a scratch table of the
  capacity table's shape (same columns and primary key, same pragmas), batch by batch to
  the same providers, one transaction a batch. Target: gateway >= 0.1x of it.

Exits non-zero if any batch is not a 200 with every row applied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import wait_up  # noqa: E402
from pentad.components import SERVICE_NAMES  # noqa: E402
from tests.support import free_port_block  # noqa: E402

PG = os.environ.get("PENTAD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
BATCH = 10_000
SPECIALTIES = ["orthopaedics", "cardiology", "oncology", "fertility_ivf", "bariatric", "cosmetic_plastic",
               "ophthalmology", "checkups", "rehabilitation", "dental_implantology", "cosmetic_dentistry",
               "spa_therapies", "wellness_programmes", "sports_medicine", "nutrition_programmes",
               "dialysis_travel", "accessible_stays", "assisted_living"]
DAYS = 720  # 18 specialties x 720 days: 12,960 (specialty, day) keys a provider


def batches_for(count: int) -> list[list[dict[str, object]]]:
    """``count`` batches over a provider's (specialty, day) grid, each key at most once a batch.

    Batches go to the providers in turn, so each provider's first batch inserts and later
    ones mostly re-confirm (update) what it posted, with a few new days: a provider feed.
    """
    today = datetime.now(UTC).date()
    grid = [(s, (today + timedelta(days=d)).isoformat()) for d in range(DAYS) for s in SPECIALTIES]
    assert len(grid) >= BATCH
    out = []
    for i in range(count):
        start = (i * 997) % (len(grid) - BATCH + 1)
        out.append([{"specialty": s, "date": d, "slots_total": 10 + i % 5, "slots_available": (i * 7 + n) % 10}
                    for n, (s, d) in enumerate(grid[start:start + BATCH])])
    return out


async def through_gateway(url: str, key: str, stakeholders: list[str], bodies: list[bytes],
                          concurrency: int) -> tuple[float, dict[str, int]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for i, body in enumerate(bodies):
        queue.put_nowait((stakeholders[i % len(stakeholders)], body))
    counts = {"inserted": 0, "updated": 0}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            stakeholder, body = queue.get_nowait()
            async with session.post(f"{url}/integration/stakeholders/{stakeholder}/capacity", data=body,
                                    headers=headers) as r:
                raw = await r.read()
                result = json.loads(raw) if r.status == 200 else {}
                if r.status != 200 or result["rejected"]:
                    raise RuntimeError(f"batch answered {r.status}: {raw[:300]!r}")
                counts["inserted"] += result["inserted"]
                counts["updated"] += result["updated"]

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - start, counts


async def raw_copy(dsn: str, batches: list[list[dict[str, object]]]) -> tuple[float, int]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE capacity_raw (stakeholder_id varchar(40), specialty varchar(50), "
                           "date date, slots_total int, slots_available int, confirmed_at timestamptz)")
        now = datetime.now(UTC)
        records = [[("stk_raw", r["specialty"], datetime.fromisoformat(str(r["date"])).date(), r["slots_total"],
                     r["slots_available"], now) for r in batch] for batch in batches]
        start = time.perf_counter()
        for rows in records:
            await conn.copy_records_to_table("capacity_raw", records=rows)
        return time.perf_counter() - start, sum(len(r) for r in records)
    finally:
        await conn.close()


def raw_sqlite(path: Path, stakeholders: list[str], batches: list[list[dict[str, object]]]) -> tuple[float, int]:
    """Upsert the same batches with the stdlib driver into a table shaped like ``capacity``."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE capacity_raw (stakeholder_id VARCHAR(40) NOT NULL, specialty VARCHAR(50) NOT NULL, "
                     "date DATE NOT NULL, slots_total INTEGER NOT NULL, slots_available INTEGER NOT NULL, "
                     "confirmed_at DATETIME NOT NULL, PRIMARY KEY (stakeholder_id, specialty, date))")
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        records = [[(stakeholders[i % len(stakeholders)], r["specialty"], r["date"], r["slots_total"],
                     r["slots_available"], now) for r in batch] for i, batch in enumerate(batches)]
        sql = ("INSERT INTO capacity_raw VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stakeholder_id, specialty, date) "
               "DO UPDATE SET slots_total = excluded.slots_total, slots_available = excluded.slots_available, "
               "confirmed_at = excluded.confirmed_at")
        start = time.perf_counter()
        for rows in records:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        return time.perf_counter() - start, sum(len(r) for r in records)
    finally:
        conn.close()


TARGETS = {"postgresql": 0.25, "sqlite": 0.1}
BASELINES = {"postgresql": "asyncpg copy_records_to_table (plain insert)",
             "sqlite": "sqlite3 executemany (upsert, same table shape)"}


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, object]:
    run = uuid.uuid4().hex[:8]
    names = [f"pentad_bench_{run}_{c}" for c in ("gateway", *SERVICE_NAMES)]
    data = Path(tempfile.mkdtemp(prefix=f"pentad-ingest-{backend}-"))
    base = free_port_block(len(SERVICE_NAMES) + 2)
    urls = {s: f"http://127.0.0.1:{base + i}" for i, s in enumerate(SERVICE_NAMES, start=1)}
    env = {**os.environ, "PENTAD_SECRET": "bench", "PENTAD_DATA_DIR": str(data), "PENTAD_ACCESS_LOG": "true",
           "PENTAD_SERVICE_URLS": json.dumps(urls), "PENTAD_LOG_FORMAT": "json",
           "PENTAD_RATE_LIMIT_PER_SECOND": "100000", "PENTAD_RATE_LIMIT_BURST": "100000"}
    admin = None
    if backend == "postgresql":
        admin = await asyncpg.connect(PG + "/postgres")
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://{PG.split('://', 1)[1]}/pentad_bench_{run}_{{service}}"
    elif backend != "sqlite":
        raise SystemExit(f"unknown backend {backend!r}")
    procs = []
    try:
        migrated = subprocess.run([sys.executable, "-m", "launcher.cli", "migrate", "--data-dir", str(data)], env=env,
                                  capture_output=True, text=True, cwd=ROOT)
        if migrated.returncode:
            raise SystemExit(f"migrate failed:\n{migrated.stderr[-2000:]}")
        for component, port in (("segmentation", base + 1), ("integration", base + 2), ("gateway", base)):
            procs.append(subprocess.Popen([sys.executable, "-m", "launcher.serve", component],
                                          env={**env, "PENTAD_SERVICE": component, "PENTAD_PORT": str(port)},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))
            wait_up(f"http://127.0.0.1:{port}/health/live")
        gateway = f"http://127.0.0.1:{base}"
        key = (data / "admin.key").read_text().strip()
        stakeholders = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as s:
            for i in range(args.providers):
                async with s.post(f"{gateway}/integration/stakeholders", json={
                        "kind": "hospital", "name": f"Bench hospital {i}", "country": "HR", "city": "Rijeka",
                        "specialties": SPECIALTIES}) as r:
                    if r.status != 201:
                        raise SystemExit(f"registering a provider: {r.status} {await r.text()}")
                    stakeholders.append((await r.json())["id"])
        batches = batches_for(args.batches)
        bodies = [orjson.dumps({"rows": b}) for b in batches]
        await through_gateway(gateway, key, stakeholders, bodies[:2], 1)  # warm-up
        elapsed, counts = await through_gateway(gateway, key, stakeholders, bodies, args.concurrency)
        if backend == "postgresql":
            raw_elapsed, raw_rows = await raw_copy(f"{PG}/{names[2]}", batches)
        else:
            raw_elapsed, raw_rows = raw_sqlite(data / "integration.db", stakeholders, batches)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        if admin is not None:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        shutil.rmtree(data, ignore_errors=True)
    applied = counts["inserted"] + counts["updated"]
    return {"backend": backend, "rate": applied / elapsed, "elapsed": elapsed, "counts": counts,
            "raw_rate": raw_rows / raw_elapsed, "raw_elapsed": raw_elapsed}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--batches", type=int, default=120)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--providers", type=int, default=4)
    args = ap.parse_args()
    results = []
    for backend in args.backends.split(","):
        print(f"{backend}: {args.batches} batches of {BATCH:,} rows...", flush=True)
        results.append(await run_backend(backend.strip(), args))
    print(f"\n{args.batches} batches x {BATCH:,} rows, {args.concurrency} at a time through the gateway, "
          f"{args.providers} providers, {os.cpu_count()} cores (baseline: one connection, same rows, same run)")
    print(f"{'backend':<11} {'gateway rows/s':>14} {'baseline rows/s':>15} {'ratio':>6}  {'verdict':<14} baseline")
    for r in results:
        ratio = r["rate"] / r["raw_rate"]  # type: ignore[operator]
        target = TARGETS[str(r["backend"])]
        print(f"{r['backend']:<11} {r['rate']:>14,.0f} {r['raw_rate']:>15,.0f} {ratio:>5.2f}x  "
              f"{'PASS' if ratio >= target else 'FAIL'} (>= {target:<4}) {BASELINES[str(r['backend'])]}")
    for r in results:
        c = r["counts"]
        print(f"  {r['backend']}: gateway {r['elapsed']:.2f} s ({c['inserted']:,} inserted, "  # type: ignore[index]
              f"{c['updated']:,} updated), baseline {r['raw_elapsed']:.2f} s")  # type: ignore[index]


if __name__ == "__main__":
    asyncio.run(main())
