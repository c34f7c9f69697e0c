"""The coordinator's offer at national scale, against the same SQL run straight on the database.

    python bench/offer.py [--seconds 20] [--concurrency 16] [--stakeholders 10000] [--rows 1000000]
                          [--changes 2] [--code DIR]

PostgreSQL on 127.0.0.1:5432 (or PENTAD_BENCH_PG); a database of its own, dropped afterwards.
The read model's tables are filled straight (binary COPY): 10,000 stakeholders (4,000
providers with two specialties each of 18, hotels, transfer firms, facilitators), their
accreditations (90% valid, the rest revoked or expired), 1,000,000 capacity rows (each
provider-specialty a run of days from today, 85% of providers confirmed 2 days ago, the rest
past the staleness window), packages, and 24 segments of one or two specialties; then
VACUUM ANALYZE, as autovacuum would have done in production after such a load (without it
PostgreSQL has no visibility map yet and every index-only scan reads the heap too). Then:

- the coordinator as a real process (``launcher.serve dmo``, its consumer off), three times:
  without its answer cache (every request runs the statements); with it (5 s) on a read
  model that does not change; and with it while the read model changes ``--changes`` times
  a second: a writer re-confirms one capacity day of a random provider-specialty and moves
  the integration feed's cursor in one transaction, through the functions the consumer
  applies ``capacity.updated`` with (``readmodel.put_capacity``, ``readmodel.move``: the
  offer versions of that specialty are counted, ~2 of the 24 segments). A checkout whose
  read model has no ``rm_offer_versions`` (``--code``, before dmo_0006) gets the same
  change in SQL (its cache then drops every answer, as it would). Each is called
  directly with the gateway's signature as a facilitator: ``--concurrency`` clients in a
  closed loop, each ``GET /segments/{id}/offer`` (default window, first page) over the
  segments in turn, for ``--seconds``;
- the same statements an uncached offer runs (feed positions, segment, the page of
  providers, their accreditations, weekly capacity, packages with the FX table), straight
  through asyncpg on as many connections, for as long.

Prints p50/p90/p99 and requests a second for each, and the ratio. Target: offer p99 <= 50 ms.
``--code DIR`` runs the coordinator (and its migrations) from another checkout, to compare
two versions on the same machine state; the straight SQL stays this one's.

Then (``--reactions N``, default 5; 0 skips it) the reaction time: Segmentation, Integration,
Administration, Development and the coordinator (its consumer polling every 0.1 s) running as
in the tests (uvicorn in this process, fresh PostgreSQL databases) with a fake Promotion;
N times a ready segment with an active campaign has its one accreditation revoked through
Administration's API, and the time until the campaign is paused is measured. Target <= 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import wait_up  # noqa: E402
from pentad.identity import Caller, Role, sign  # noqa: E402
from tests.support import free_port  # noqa: E402

T = TypeVar("T")
PG = os.environ.get("PENTAD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "bench-offer"
SPECIALTIES = ["orthopaedics", "cardiology", "oncology", "fertility_ivf", "bariatric", "cosmetic_plastic",
               "ophthalmology", "checkups", "rehabilitation", "dental_implantology", "cosmetic_dentistry",
               "spa_therapies", "wellness_programmes", "sports_medicine", "nutrition_programmes",
               "dialysis_travel", "accessible_stays", "assisted_living"]
LANGUAGES = ["en", "de", "it", "hr", "sl", "fr", "ru", "ar"]
PROVIDER_KINDS = ["hospital", "clinic", "dental", "rehab", "wellness"]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def stakeholders(count: int, rnd: random.Random) -> tuple[list[tuple[str, ...]], list[tuple[str, str]]]:
    rows: list[tuple[str, ...]] = []
    offered: list[tuple[str, str]] = []
    providers = count * 2 // 5
    for i in range(count):
        sid = f"stk_bench{i:07d}"
        if i < providers:
            kind = PROVIDER_KINDS[i % len(PROVIDER_KINDS)]
            specialties = rnd.sample(SPECIALTIES, 2)
            offered += [(s, sid) for s in specialties]
        else:
            kind, specialties = ["hotel", "hotel", "transfer", "facilitator"][i % 4], []
        rows.append((sid, kind, f"Bench {kind} {i:07d}", "active", _json(rnd.sample(LANGUAGES, 2)),
                     _json(specialties)))
    return rows, offered


def capacity(offered: list[tuple[str, str]], total: int, now: datetime, rnd: random.Random
             ) -> list[tuple[object, ...]]:
    """``total`` rows spread evenly over the provider-specialties, each a run of days from today."""
    per, extra = divmod(total, len(offered))
    today = now.date()
    fresh, stale = now - timedelta(days=2), now - timedelta(days=20)
    rows: list[tuple[object, ...]] = []
    for n, (specialty, sid) in enumerate(offered):
        confirmed = stale if int(sid[-4:]) % 20 < 3 else fresh
        for d in range(per + (1 if n < extra else 0)):
            rows.append((sid, specialty, today + timedelta(days=d), rnd.randint(0, 6), confirmed))
    return rows


async def fill(dsn: str, args: argparse.Namespace) -> list[str]:
    rnd = random.Random(7)
    now = datetime.now(UTC)
    people, offered = stakeholders(args.stakeholders, rnd)
    providers = sorted({sid for _, sid in offered})
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("rm_stakeholders", records=people,
                                         columns=["id", "kind", "name", "status", "languages", "specialties"])
        await conn.copy_records_to_table("rm_stakeholder_specialties", records=offered,
                                         columns=["specialty", "stakeholder_id"])
        await conn.copy_records_to_table("rm_stakeholder_languages", records=[
            (p[0], lang) for p in people for lang in orjson.loads(p[4])], columns=["stakeholder_id", "language"])
        await conn.copy_records_to_table("rm_capacity", records=capacity(offered, args.rows, now, rnd),
                                         columns=["stakeholder_id", "specialty", "date", "slots_available",
                                                  "confirmed_at"])
        states = ["valid"] * 18 + ["revoked"]
        await conn.copy_records_to_table("rm_accreditations", records=[
            (f"acc_bench{i:07d}", sid, "sch_jci", "jci", rnd.choice(states),
             now.date() + timedelta(days=-5 if i % 20 == 0 else 400)) for i, sid in enumerate(providers)],
            columns=["id", "stakeholder_id", "scheme_id", "scheme_code", "state", "expires_on"])
        hotels = [p[0] for p in people if p[1] == "hotel"]
        packages = []
        for i, sid in enumerate(providers[::4]):
            specialty = next(s for s, who in offered if who == sid)
            packages.append((f"pkg_bench{i:06d}", f"Bench package {i}", specialty, "EUR", _json([
                {"kind": "treatment", "stakeholder_id": sid, "description": "t",
                 "price": {"amount": "4200.00", "currency": "EUR"}},
                {"kind": "stay", "stakeholder_id": hotels[i % len(hotels)], "description": "s",
                 "price": {"amount": "80.00", "currency": "USD"}}])))
        await conn.copy_records_to_table("rm_packages", records=packages,
                                         columns=["id", "name", "specialty", "currency", "components"])
        await conn.copy_records_to_table("rm_package_stakeholders", records=[
            (c["stakeholder_id"], p[0]) for p in packages for c in orjson.loads(p[4])],
            columns=["stakeholder_id", "package_id"])
        await conn.execute("INSERT INTO rm_fx (id, base, rates) VALUES (1, 'EUR', $1)",
                           _json({"GBP": "0.8563", "USD": "1.0812"}))
        segments = []
        for i in range(24):
            specialties = [SPECIALTIES[i % 18]] + ([SPECIALTIES[(i * 7 + 3) % 18]] if i % 2 else [])
            segments.append((f"seg_bench{i:03d}", f"Bench segment {i}", "active", _json(specialties),
                             _json([LANGUAGES[i % 3]]), 10, 100))
        await conn.copy_records_to_table("rm_segments", records=segments, columns=[
            "id", "name", "status", "specialties", "languages", "min_accredited_providers", "min_weekly_capacity"])
        await conn.executemany("INSERT INTO feed_cursors (feed, seq, drained_at) VALUES ($1, 1000, $2)",
                               [(f, now) for f in ("segmentation", "integration", "administration")])
        # Production has autovacuum; a table just filled by COPY has no visibility map until
        # vacuumed, and index-only scans would read the heap for every row.
        await conn.execute("VACUUM ANALYZE")
        counted = await conn.fetchval("SELECT count(*) FROM rm_capacity")
        print(f"read model filled: {len(people):,} stakeholders, {len(providers):,} providers, "
              f"{counted:,} capacity rows, {len(packages):,} packages, {len(segments)} segments "
              f"in {time.perf_counter() - started:.1f} s")
        return [s[0] for s in segments]
    finally:
        await conn.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] * 1000}


async def closed_loop(concurrency: int, seconds: float, one: object) -> tuple[list[float], float]:
    """``concurrency`` workers calling ``one(i)`` back to back for ``seconds``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        i = w
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await one(i)  # type: ignore[operator]
            latencies.append(time.perf_counter() - start)
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return latencies, time.perf_counter() - started


async def through_service(url: str, segments: list[str], args: argparse.Namespace) -> tuple[list[float], float]:
    """The offers asked of the coordinator at ``url`` (see the module's doc)."""
    caller = Caller("key_bench_facilitator", Role.facilitator, "stk_bench_agent")
    paths = [f"/segments/{s}/offer" for s in segments]
    signed = {}
    for p in paths:  # the gateway's signature (valid for 5 minutes) and the request id it covers
        rid = uuid.uuid4().hex
        signed[p] = {**dict(sign(SECRET.encode(), method="GET", path=p, caller=caller, request_id=rid)),
                     "x-request-id": rid}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def one(i: int) -> None:
            path = paths[i % len(paths)]
            async with http.get(url + path, headers=signed[path]) as r:
                body = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path} answered {r.status}: {body[:300]!r}")

        await closed_loop(args.concurrency, 2, one)  # warm the pool, the plans, the caches
        return await closed_loop(args.concurrency, args.seconds, one)


async def changing(dsn: str, url: str, per_second: float) -> None:
    """The read model changing ``per_second`` times a second until cancelled (see the module's doc)."""
    from pentad.db import Database, write_intent
    from services.dmo import readmodel
    from services.integration.schemas import CapacityRow

    rnd = random.Random(11)
    conn = await asyncpg.connect(dsn)
    offered = [tuple(r) for r in await conn.fetch("SELECT stakeholder_id, specialty FROM rm_stakeholder_specialties")]
    versioned = await conn.fetchval("SELECT to_regclass('rm_offer_versions') IS NOT NULL")
    db = Database.connect(url)
    write_intent.set(True)
    made = 0
    try:
        while True:
            await asyncio.sleep(1 / per_second)
            (sid, specialty), now = rnd.choice(offered), datetime.now(UTC)
            day, slots = now.date() + timedelta(days=rnd.randrange(28)), rnd.randint(0, 6)
            if not versioned:
                async with conn.transaction():
                    await conn.execute("UPDATE rm_capacity SET slots_available = $4, confirmed_at = $5 WHERE "
                                       "stakeholder_id = $1 AND specialty = $2 AND date = $3",
                                       sid, specialty, day, slots, now)
                    await conn.execute("UPDATE feed_cursors SET seq = seq + 1, drained_at = $1 "
                                       "WHERE feed = 'integration'", now)
                made += 1
                continue
            async with db.sessionmaker() as session:
                row = CapacityRow(specialty=specialty, date=day, slots_total=6, slots_available=slots,
                                  confirmed_at=now, stale=False)
                await readmodel.put_capacity(session, stakeholder_id=sid, rows=[row])
                seq = await readmodel.position(session, "integration") + 1
                await readmodel.move(session, feed="integration", seq=seq, drained_at=now)
                await session.commit()
            made += 1
    finally:
        print(f"  the writer made {made} changes ({'counted in offer versions' if versioned else 'in SQL'})")
        await conn.close()
        await db.dispose()


async def with_changes(dsn: str, url: str, per_second: float, run: Awaitable[T]) -> T:
    writer = asyncio.create_task(changing(dsn, url, per_second))
    try:
        return await run
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


# The statements an uncached offer runs for a first page, as asyncpg takes them (IN lists as
# = ANY arrays, except what offer.py writes into the page's text: specialties, kinds,
# languages, the day).
SQL_CURSORS = "SELECT feed, seq, drained_at FROM feed_cursors ORDER BY feed"
SQL_SEGMENT = "SELECT * FROM rm_segments WHERE id = $1"
SQL_PAGE = (
    "SELECT k.id, k.name, k.kind, k.languages, k.specialties FROM ("
    "SELECT s.id, s.name, s.kind, s.languages, s.specialties FROM (SELECT DISTINCT ss.stakeholder_id "
    "FROM rm_stakeholder_specialties ss WHERE ss.specialty IN ({specialties})) o "
    "JOIN rm_stakeholders s ON s.id = o.stakeholder_id WHERE s.status = 'active' AND s.kind IN ({kinds}) "
    "AND EXISTS (SELECT 1 FROM rm_accreditations a WHERE a.stakeholder_id = s.id AND a.state = 'valid' "
    "AND a.expires_on >= '{today}') "
    "AND EXISTS (SELECT 1 FROM rm_stakeholder_languages l WHERE l.stakeholder_id = s.id "
    "AND l.language IN ({languages})) "
    "ORDER BY s.name, s.id) k "
    "WHERE EXISTS (SELECT 1 FROM rm_stakeholder_specialties ss JOIN rm_capacity c ON c.stakeholder_id = "
    "ss.stakeholder_id AND c.specialty = ss.specialty WHERE ss.stakeholder_id = k.id "
    "AND ss.specialty IN ({specialties}) "
    "AND c.date >= $1 AND c.date <= $2 AND c.confirmed_at >= $3 AND c.slots_available > 0) "
    "ORDER BY k.name, k.id LIMIT 51")
SQL_ACCREDITATIONS = ("SELECT id, stakeholder_id, scheme_id, scheme_code, state, expires_on FROM rm_accreditations "
                      "WHERE state = 'valid' AND expires_on >= $2 AND stakeholder_id = ANY($1) ORDER BY id")
SQL_WEEKLY = ("SELECT c.stakeholder_id, (c.date - CAST($1 AS date)) / 7 AS wk, "
              "sum(CASE WHEN c.confirmed_at >= $2 THEN c.slots_available ELSE 0 END) AS fresh, "
              "sum(CASE WHEN c.confirmed_at < $2 THEN c.slots_available ELSE 0 END) AS stale "
              "FROM rm_stakeholder_specialties ss JOIN rm_capacity c "
              "ON c.stakeholder_id = ss.stakeholder_id AND c.specialty = ss.specialty "
              "WHERE ss.specialty = ANY($3) AND c.date >= $4 AND c.date <= $5 AND ss.stakeholder_id = ANY($6) "
              "GROUP BY c.stakeholder_id, wk")
SQL_PACKAGES = ("SELECT ps.stakeholder_id, p.id, p.name, p.specialty, p.currency, p.components, fx.base, fx.rates "
                "FROM rm_package_stakeholders ps JOIN rm_packages p ON p.id = ps.package_id "
                "LEFT OUTER JOIN rm_fx fx ON fx.id = 1 "
                "WHERE ps.stakeholder_id = ANY($1) AND p.specialty = ANY($2) ORDER BY p.name, p.id")


def _listed(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


async def straight_sql(dsn: str, segments: list[str], args: argparse.Namespace) -> tuple[list[float], float]:
    pool = await asyncpg.create_pool(dsn, min_size=args.concurrency, max_size=args.concurrency)
    now = datetime.now(UTC)
    today = now.date()
    start, end = today, today + timedelta(weeks=8) - timedelta(days=1)
    monday, fresh_since = start - timedelta(days=start.weekday()), now - timedelta(days=14)
    try:
        async def one(i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetch(SQL_CURSORS)
                segment = await conn.fetchrow(SQL_SEGMENT, segments[i % len(segments)])
                specialties, languages = orjson.loads(segment["specialties"]), orjson.loads(segment["languages"])
                page = await conn.fetch(SQL_PAGE.format(
                    specialties=_listed(specialties), kinds=_listed(sorted(PROVIDER_KINDS)),
                    languages=_listed(languages), today=today.isoformat()), start, end, fresh_since)
                ids = [r["id"] for r in page[:50]]
                await conn.fetch(SQL_ACCREDITATIONS, ids, today)
                await conn.fetch(SQL_WEEKLY, monday, fresh_since, specialties, start, end, ids)
                await conn.fetch(SQL_PACKAGES, ids, specialties)

        await closed_loop(args.concurrency, 2, one)
        return await closed_loop(args.concurrency, args.seconds, one)
    finally:
        await pool.close()


def report(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    p = percentiles(latencies)
    print(f"{name:<34} {len(latencies) / elapsed:8.0f} req/s   p50 {p['p50']:6.1f} ms   p90 {p['p90']:6.1f} ms   "
          f"p99 {p['p99']:6.1f} ms   max {p['max']:6.1f} ms   ({len(latencies):,} requests, "
          f"load {os.getloadavg()[0]:.1f})")
    return p


async def reaction_times(count: int) -> list[float]:
    """Revocation to campaign paused, ``count`` times (see the module's doc)."""
    import tempfile
    from contextlib import AsyncExitStack

    from pentad.logging import configure_logging
    from tests.dmo.conftest import start_world
    from tests.dmo.helpers import cluster, set_accreditation
    from tests.support import DatabaseFactory

    configure_logging(service="bench", fmt="console", level="warning")  # the servers below run in this process
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        databases = DatabaseFactory("postgresql", Path(tmp))
        try:
            async with AsyncExitStack() as stack:
                world = await start_world(stack, databases, Path(tmp), dmo_feed_poll_seconds=0.1)
                for _ in range(count):
                    c = await cluster(world, providers=1, threshold=1, capacity=10)
                    campaign = world.promotion.add(c.segment["id"])
                    async with world.client("dmo") as staff:
                        while not (r := await staff.get(f"/segments/{c.segment['id']}/readiness")).is_success \
                                or not r.json()["ready"]:
                            await asyncio.sleep(0.05)
                    started = time.perf_counter()
                    await set_accreditation(world, c.accreditations[c.providers[0]], "revoked")
                    while world.promotion.campaigns[campaign]["status"] != "paused":
                        await asyncio.sleep(0.01)
                    times.append(time.perf_counter() - started)
        finally:
            await databases.drop_all()
    return times


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stakeholders", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reactions", type=int, default=5)
    parser.add_argument("--changes", type=float, default=2, help="read-model changes a second in the third run")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose coordinator is measured")
    args = parser.parse_args()
    name = f"pentad_bench_offer_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn, url = f"{PG}/{name}", f"postgresql+asyncpg://{PG.split('://', 1)[1]}/{name}"
    try:
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", f"from pentad import migrate; "
                                                 f"migrate.upgrade('dmo', {url!r})"], cwd=args.code, check=True)
        segments = await fill(dsn, args)
        print(f"{args.concurrency} concurrent clients, {args.seconds:.0f} s each, default window (8 weeks), "
              f"first page (50 providers), {len(segments)} segments in turn; load average now "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; coordinator from {args.code}")
        sql = report("same SQL straight (asyncpg)", *await straight_sql(dsn, segments, args))
        runs = (("offer, answer cache off", "0", 0.0), ("offer, answer cache 5 s", "5", 0.0),
                (f"offer, cache 5 s, {args.changes:g} changes/s", "5", args.changes))
        for label, cache, changes in runs:
            port = free_port()
            env = {**os.environ, "PENTAD_SECRET": SECRET, "PENTAD_DATABASE_URL": url, "PENTAD_SERVICE": "dmo",
                   "PENTAD_PORT": str(port), "PENTAD_ACCESS_LOG": "false", "PENTAD_LOG_LEVEL": "warning",
                   "PENTAD_DMO_FEED_POLL_SECONDS": "0", "PENTAD_DB_POOL_SIZE": str(args.concurrency),
                   "PENTAD_DMO_OFFER_CACHE_SECONDS": cache}
            proc = subprocess.Popen([sys.executable, "-m", "launcher.serve", "dmo"], env=env, cwd=args.code)
            try:
                base = f"http://127.0.0.1:{port}"
                await asyncio.to_thread(wait_up, f"{base}/health/live", 180)  # slow to start on a loaded machine
                asked = through_service(base, segments, args)
                service = report(label, *await (with_changes(dsn, url, changes, asked) if changes else asked))
            finally:
                proc.terminate()
                proc.wait(timeout=15)
            print(f"  p99 / straight SQL p99: {service['p99'] / sql['p99']:.2f}x   "
                  f"target p99 <= 50 ms: {'met' if service['p99'] <= 50 else 'NOT met'}")
        if args.reactions:
            took = sorted(await reaction_times(args.reactions))
            print(f"revocation -> campaign paused ({len(took)} times): median {took[len(took) // 2] * 1000:.0f} ms, "
                  f"max {took[-1] * 1000:.0f} ms   target <= 5 s: {'met' if took[-1] <= 5 else 'NOT met'}")
        return 0
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
