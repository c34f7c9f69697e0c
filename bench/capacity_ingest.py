"""Capacity ingest through the gateway on PostgreSQL, against a raw driver bulk insert.

    python bench/capacity_ingest.py [--batches 40] [--concurrency 4]

Starts Segmentation, Integration and the gateway as real processes on fresh PostgreSQL
databases (127.0.0.1:5432, or PENTAD_BENCH_PG), registers providers, then posts
10,000-row batches (half new rows, half re-confirmations) through the gateway, the way a
provider system would. In the same run it times asyncpg ``copy_records_to_table`` of the
same rows into a scratch table: the ceiling a driver gives with no HTTP, JSON,
validation or upsert. Prints rows/s for both and the ratio; the target is >= 100,000
rows/s through the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
                result = await r.json()
                assert r.status == 200 and not result["rejected"], (r.status, str(result)[:300])
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


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--providers", type=int, default=4)
    args = ap.parse_args()
    run = uuid.uuid4().hex[:8]
    names = [f"pentad_bench_{run}_{c}" for c in ("gateway", *SERVICE_NAMES)]
    admin = await asyncpg.connect(PG + "/postgres")
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}"')
    data = Path(tempfile.mkdtemp(prefix="pentad-ingest-"))
    base = free_port_block(len(SERVICE_NAMES) + 2)
    urls = {s: f"http://127.0.0.1:{base + i}" for i, s in enumerate(SERVICE_NAMES, start=1)}
    env = {**os.environ, "PENTAD_SECRET": "bench", "PENTAD_DATA_DIR": str(data), "PENTAD_ACCESS_LOG": "true",
           "PENTAD_SERVICE_URLS": json.dumps(urls), "PENTAD_LOG_FORMAT": "json",
           "PENTAD_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/pentad_bench_{run}_{{service}}",
           "PENTAD_RATE_LIMIT_PER_SECOND": "100000", "PENTAD_RATE_LIMIT_BURST": "100000"}
    procs = []
    try:
        subprocess.run([sys.executable, "-m", "launcher.cli", "migrate", "--data-dir", str(data)], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
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
                    stakeholders.append((await r.json())["id"])
        batches = batches_for(args.batches)
        bodies = [orjson.dumps({"rows": b}) for b in batches]
        await through_gateway(gateway, key, stakeholders, bodies[:2], 1)  # warm-up
        elapsed, counts = await through_gateway(gateway, key, stakeholders, bodies, args.concurrency)
        applied = counts["inserted"] + counts["updated"]
        raw_elapsed, raw_rows = await raw_copy(f"{PG}/{names[2]}", batches)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    rate, raw_rate = applied / elapsed, raw_rows / raw_elapsed
    print(f"\n{args.batches} batches x {BATCH} rows, {args.concurrency} at a time, {args.providers} providers, "
          f"PostgreSQL, {os.cpu_count()} cores")
    print(f"through the gateway (upsert, validation, events): {rate:>10,.0f} rows/s  ({elapsed:.2f} s; "
          f"{counts['inserted']:,} inserted, {counts['updated']:,} updated)")
    print(f"asyncpg copy_records_to_table (plain insert):      {raw_rate:>10,.0f} rows/s  ({raw_elapsed:.2f} s)")
    print(f"ratio: {rate / raw_rate:.2f}   target >= 100,000 rows/s: {'MET' if rate >= 100_000 else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
