"""Where the read path's time goes (issue 13): py-spy, database round trips, the access line.

    python bench/kit_profile.py [--backends postgresql,sqlite] [--seconds 15] [--out DIR]

Uses bench/kit.py's set-up (same data, same processes, access lines on). For each backend:

1. Round trips (PostgreSQL): ``log_statement = all`` on the Segmentation database only,
   sequential requests through the gateway, the statements each one sent read back from
   the server log (PENTAD_BENCH_PG_LOG, default /var/log/postgresql/postgresql-*-main.log).
2. Connections (PostgreSQL): while wrk drives ``GET /segmentation/segments`` through the
   gateway at 16 connections, ``pg_stat_activity`` is sampled (backends, backend_start
   ages) and ``pg_stat_database`` gives new sessions and transactions per request.
3. py-spy (``--gil --nonblocking``, 200 Hz, all threads) on the Segmentation process during
   the same kind of wrk run (a page of 50, then one segment), then on the gateway: the raw
   stacks go to ``--out`` and a summary (cost buckets, the kit's steps, top functions) is
   printed, with the CPU time each process spent a request (/proc, same window).
4. The access line: the segmentation process and gateway restarted with
   ``PENTAD_ACCESS_LOG`` false and true in turn (A/B/A/B), plus the line timed in-process.
5. Pool pre-ping (PostgreSQL): the minimal app with and without ``pool_pre_ping`` (A/B/A/B).

Needs wrk and py-spy (``.venv/bin/pip install py-spy``).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kit import PG, Run, Stack, operations, pg_admin, pids_for, script_for, stack, wrk  # noqa: E402

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


# -- 1. round trips ---------------------------------------------------------------------------

def pg_log() -> Path:
    given = os.environ.get("PENTAD_BENCH_PG_LOG")
    found = [given] if given else sorted(glob.glob("/var/log/postgresql/postgresql-*-main.log"))
    if not found or not os.access(found[-1], os.R_OK):
        raise RuntimeError("cannot read the PostgreSQL server log: set PENTAD_BENCH_PG_LOG")
    return Path(found[-1])


_STATEMENT = re.compile(r"\[(\d+)\] \S+@(\S+) LOG:  (?:statement|execute [^:]*): (.*)")


def logged_statements(log: Path, offset: int, db: str) -> list[tuple[int, str]]:
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    out = []
    for line in text.splitlines():
        m = _STATEMENT.search(line)
        if m and m.group(2) == db:
            out.append((int(m.group(1)), m.group(3).strip()))
    return out


def round_trips(s: Stack, log: Path, n: int = 10) -> str:
    db = s.pg_names["segmentation"]
    auth = {"Authorization": f"Bearer {s.key}"}
    probes = [("GET /segmentation/segments", "GET", "/segmentation/segments", None),
              ("GET /segmentation/segments/{id}", "GET", f"/segmentation/segments/{s.segment_ids[1]}", None),
              ("PATCH /segmentation/segments/{id}", "PATCH", f"/segmentation/segments/{s.segment_ids[1]}", "x")]
    lines = ["Statements the Segmentation database received per request (log_statement=all; one "
             "logged statement is one network round trip):"]
    with httpx.Client(base_url=s.gateway, headers=auth, timeout=10) as client:
        for name, method, path, body in probes:
            for i in range(3):  # warm: connection in the pool, statements prepared
                client.request(method, path, json={"name": f"warm {i}"} if body else None).raise_for_status()
            time.sleep(0.3)
            offset = log.stat().st_size
            for i in range(n):
                client.request(method, path, json={"name": f"probe {i}"} if body else None).raise_for_status()
            time.sleep(0.5)
            found = logged_statements(log, offset, db)
            pids = {pid for pid, _ in found}
            lines.append(f"\n  {name}: {len(found) / n:.1f} statements a request over {n} sequential requests "
                         f"({len(pids)} backend(s)); one request:")
            per = len(found) // n
            for _, sql in found[-per:] if per else []:
                lines.append(f"    {sql[:150]}")
    return "\n".join(lines)


def sqlite_statements(s: Stack, n: int = 10) -> str:
    """SQLite has no server log: the Segmentation app and the minimal app run in this process
    on the stack's database file, with aiosqlite's thread hand-offs counted (each is one
    round trip to the connection's thread: cursor, execute, fetchall, close, rollback...)."""
    import aiosqlite.core
    from asgi_lifespan import LifespanManager

    from bench.kit import BENCH_CALLER, SECRET
    from pentad.settings import Settings
    from services.segmentation.app import create_app
    from tests.support import SignedAs

    hops: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", type(fn).__name__)
        hops.append(f"{name}({args[0].split()[0]})" if name == "execute" and args else name)
        return await original(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counting  # type: ignore[method-assign]
    os.environ["BENCH_SEGMENTATION_URL"] = s.db_urls["segmentation"]
    os.environ["BENCH_INTEGRATION_URL"] = s.db_urls["integration"]
    from bench import minimal_app

    pentad_app = create_app(Settings(service="segmentation", database_url=s.db_urls["segmentation"], secret=SECRET,
                                     data_dir=s.data, access_log=False))
    seg = s.segment_ids[2]
    probes = [("GET /segments", "GET", "/segments"), ("GET /segments/{id}", "GET", f"/segments/{seg}"),
              ("PATCH /segments/{id}", "PATCH", f"/segments/{seg}")]
    lines = ["aiosqlite thread hand-offs per request (SQLite; one line per request kind):"]

    async def probe(label: str, app: Any, auth: httpx.Auth | None) -> None:
        async with LifespanManager(app) as manager:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://kit",
                                         auth=auth) as client:
                for name, method, path in probes:
                    for i in range(3 + n):
                        if i == 3:
                            hops.clear()
                        r = await client.request(method, path, json={"name": f"hops {label} {i}"}
                                                 if method == "PATCH" else None)
                        r.raise_for_status()
                    one = hops[-(len(hops) // n):]
                    lines.append(f"  {label:<7} {name:<21} {len(hops) / n:4.1f} hops: {' '.join(one)}")

    async def burst(label: str, app: Any, auth: httpx.Auth | None, rounds: int = 10) -> None:
        # 16 requests at a time, as wrk -c16 through the gateway gives the service.
        async with LifespanManager(app) as manager:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://kit",
                                         auth=auth) as client:
                hops.clear()
                for _ in range(rounds):
                    answers = await asyncio.gather(*(client.get(probes[1][2]) for _ in range(16)))
                    for r in answers:
                        r.raise_for_status()
                done = 16 * rounds
                opened = sum(h == "execute(PRAGMA)" for h in hops) // 4  # four pragmas a new connection
                lines.append(f"  {label:<7} 16 concurrent GET /segments/{{id}}: {len(hops) / done:4.1f} hops a "
                             f"request; {opened} new SQLite connections (thread, open, 4 pragmas) for {done} requests")

    try:
        asyncio.run(probe("pentad", pentad_app, SignedAs(BENCH_CALLER, SECRET)))
        asyncio.run(probe("minimal", minimal_app.app, None))
        asyncio.run(burst("pentad", pentad_app, SignedAs(BENCH_CALLER, SECRET)))
        asyncio.run(burst("minimal", minimal_app.app, None))
    finally:
        aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]
    return "\n".join(lines)


# -- 2. connections under load ----------------------------------------------------------------

async def _pg_fetch(db: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(PG + "/postgres")
    try:
        return await conn.fetch(sql, db)
    finally:
        await conn.close()


def pg_fetch(db: str, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_pg_fetch(db, sql))


_DB_STATS = "SELECT sessions, xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = $1"
_ACTIVITY = ("SELECT count(*) AS backends, extract(epoch FROM min(now() - backend_start)) AS youngest, "
             "extract(epoch FROM max(now() - backend_start)) AS oldest, "
             "count(*) FILTER (WHERE state = 'active') AS active "
             "FROM pg_stat_activity WHERE datname = $1")


def connections_under_load(s: Stack, seconds: int, tmp: Path) -> str:
    db = s.pg_names["segmentation"]
    op = operations(s)[0]
    base, script = script_for(s, op, "gateway")
    wrk(base, script, 16, 2, tmp)
    time.sleep(11)  # PostgreSQL 15 flushes an idle backend's counters within 10 s
    before = pg_fetch(db, _DB_STATS)[0]
    samples: list[asyncpg.Record] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.extend(pg_fetch(db, _ACTIVITY))
            time.sleep(1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    path = tmp / "count.lua"
    path.write_text(script)
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(path), base],
                         capture_output=True, text=True, check=True).stdout
    done.set()
    sampler.join()
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    time.sleep(11)
    after = pg_fetch(db, _DB_STATS)[0]
    ages = [(r["youngest"], r["oldest"]) for r in samples if r["backends"]]
    return "\n".join([
        f"Under wrk -c16 through the gateway for {seconds}s ({requests:,} requests, GET /segmentation/segments):",
        f"  new PostgreSQL sessions on the Segmentation database: {after['sessions'] - before['sessions']}",
        f"  transactions per request: {(after['xacts'] - before['xacts']) / requests:.2f} "
        "(pg_stat_database xact_commit + xact_rollback)",
        f"  backends sampled each second: {[r['backends'] for r in samples]} "
        f"(active: {[r['active'] for r in samples]})",
        "  youngest / oldest backend_start age (s): "
        + ", ".join(f"{float(y):.1f}/{float(o):.1f}" for y, o in ages)])


# -- 3. py-spy ----------------------------------------------------------------------------------

BUCKETS = [  # (bucket, pattern on the frame's file), first match of a leaf frame wins
    ("pydantic (validate/serialize)", r"pydantic"),
    ("FastAPI (routing, params, encoders)", r"fastapi/"),
    ("Starlette", r"starlette/"),
    ("SQLAlchemy", r"sqlalchemy/"),
    ("asyncpg", r"asyncpg/"),
    ("aiosqlite / sqlite3", r"aiosqlite|sqlite3"),
    ("json (stdlib)", r"\(json/"),
    ("structlog / logging", r"structlog|logging/|orjson"),
    ("uvicorn / httptools", r"uvicorn|httptools"),
    ("event loop (uvloop, C) / asyncio", r"asyncio/|uvloop|selectors"),
    ("anyio / threads", r"anyio/|threading|queue\.py"),
    ("pentad kit", r"\(pentad/"),
    ("gateway", r"\(gateway/"),
    ("services", r"\(services/"),
]
# Inclusive share of the samples whose stack has a frame containing the needle. SQLAlchemy's
# sync side runs in greenlets, whose stacks py-spy shows without the request frames above
# them: so steps are named by their own functions, not by the route that called them.
WATCH = [
    ("SQLAlchemy ORM Session.execute (compile, run, build objects)", "Session._execute_internal ("),
    ("  ORM object construction (new_instance + InstanceState)", "ClassManager.new_instance ("),
    ("  selectin load of the tags relationship (2nd query + objects)", "_SelectInLoader._load_for_path ("),
    ("JSON columns decoded (stdlib json.loads)", "loads (json/__init__.py)"),
    ("pydantic model_validate (ORM -> SegmentOut/PackageOut)", "BaseModel.model_validate (pydantic/main.py)"),
    ("FastAPI serialize_response (response_model -> JSON)", "serialize_response (fastapi/routing.py)"),
    ("FastAPI solve_dependencies", "solve_dependencies (fastapi/"),
    ("  run_in_threadpool (a sync dependency: Paging)", "run_in_threadpool ("),
    ("asyncpg (any frame)", "(asyncpg/"),
    ("aiosqlite / sqlite3 (any frame)", "aiosqlite/"),
    ("pool pre-ping (BEGIN; ';'; ROLLBACK)", "_async_ping ("),
    ("pool: new connections (overflow churn)", "__connect (sqlalchemy/pool/base.py)"),
    ("  asyncpg connect handshake", "(asyncpg/connect_utils.py)"),
    ("BEGIN (driver transaction start)", "_start_transaction ("),
    ("AsyncSession.close (ROLLBACK, return to pool)", "AsyncSession.close ("),
    ("UnitOfWork middleware (whole inner request)", "UnitOfWork.__call__ (pentad/uow.py)"),
    ("VerifyIdentity (HMAC check)", "verify (pentad/identity.py)"),
    ("access line (structlog log.info)", "BoundLoggerBase._proxy_to_logger ("),
    ("uvicorn: parse request (data_received)", "HttpToolsProtocol.data_received ("),
    ("uvicorn: send answer (RequestResponseCycle.send)", "RequestResponseCycle.send ("),
    ("gateway: authenticate (key hash + cache)", "GatewayState.authenticate ("),
    ("gateway: sign identity (HMAC)", "sign (pentad/identity.py)"),
    ("gateway: upstream request (gateway/upstream.py)", "UpstreamPool.request ("),
]
IDLE_LEAVES = ("Condition.wait (", "Event.wait (", "Queue.get (", "select (selectors", "_wait_for_tstate_lock (")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a process's main thread and of its other threads, including
    threads that have exited (the process total keeps them; /proc/PID/task does not)."""
    def cpu(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    total, main = cpu(Path(f"/proc/{pid}/stat")), cpu(Path(f"/proc/{pid}/task/{pid}/stat"))
    return {"main": main, "other threads": total - main}


def pyspy(pid: int, s: Stack, seconds: int, out: Path, tmp: Path, op_index: int = 0) -> str:
    """py-spy (GIL holders only: parked threads and C code that released the GIL are not
    samples) on ``pid`` while wrk -c16 drives the operation through the gateway; plus the
    CPU time each Pentad process spent a request in the same window."""
    op = operations(s)[op_index]
    base, script = script_for(s, op, "gateway")
    wrk(base, script, 16, 2, tmp)
    path = tmp / "load.lua"
    path.write_text(script)
    load = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{seconds + 3}s", "-s", str(path), base],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    pids = {name: s.pid(name) for name in ("gateway", "segmentation", "integration")}
    before = {name: thread_cpu(p) for name, p in pids.items()}
    t0 = time.monotonic()
    subprocess.run([PY_SPY, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", "raw", "--nolineno",
                    "--threads", "--gil", "--nonblocking", "-o", str(out)], check=True, capture_output=True)
    elapsed = time.monotonic() - t0
    after = {name: thread_cpu(p) for name, p in pids.items()}
    stdout, _ = load.communicate()
    m = re.search(r"Requests/sec:\s+([\d.]+)", stdout)
    rps = float(m.group(1)) if m else float("nan")
    requests = rps * elapsed
    cpu = "; ".join(
        f"{name} " + " + ".join(f"{k} {(after[name][k] - before[name][k]) / requests * 1e6:,.0f}"
                                for k in ("main", "other threads"))
        for name in pids)
    return (f"(under {op.name} through the gateway, c=16: {rps:,.0f} req/s while sampled)\n"
            f"CPU us a request (main thread + other threads): {cpu}")


def summarize(raw: Path, top: int = 20) -> str:
    stacks: list[tuple[list[str], int]] = []
    idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue  # a frame name with a line break in it (source text py-spy read mid-update)
        chain = frames.split(";")
        if chain[-1].startswith(IDLE_LEAVES):
            idle += int(count)  # a thread parked in a wait: py-spy --nonblocking may count it busy
            continue
        stacks.append((chain, int(count)))
    total = sum(c for _, c in stacks)
    if not total:
        return "no samples"
    threads: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    watch: Counter[str] = Counter()
    for frames, count in stacks:
        thread = frames[0].split(": ", 1)[-1] if frames[0].startswith("thread") else "?"
        threads[re.sub(r"\d+", "N", thread)] += count
        code = [f for f in frames if not f.startswith(("thread", "process"))]
        for f in set(code):
            incl[f] += count
        leaf = code[-1] if code else frames[-1]
        self_[leaf] += count
        buckets[next((b for b, pat in BUCKETS if re.search(pat, leaf)), "other")] += count
        joined = ";".join(code)
        for name, needle in WATCH:
            if needle in joined:
                watch[name] += count

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    out = [f"{total:,} busy samples ({idle:,} samples of parked threads left out)"]
    out.append("  by thread: " + ", ".join(f"{t}: {pct(c).strip()}" for t, c in threads.most_common(4)))
    out.append("  self time by library (leaf frame):")
    out += [f"    {pct(c)}  {b}" for b, c in buckets.most_common()]
    out.append("  inclusive time of the steps:")
    out += [f"    {pct(watch[name])}  {name}" for name, _ in WATCH if watch[name]]
    skip = ("<module>", "Runner.run (", "run (uvicorn", "Server.run (", "serve (uvicorn", "main (pentad",
            "_run_module_as_main", "_run_code", "asyncio_run (uvicorn", "Thread._bootstrap")
    shown = [(f, c) for f, c in incl.most_common() if not any(k in f for k in skip)]
    out.append(f"  top {top} functions, inclusive:")
    out += [f"    {pct(c)}  {f}" for f, c in shown[:top]]
    out.append(f"  top {top} functions, self:")
    out += [f"    {pct(c)}  {f}" for f, c in self_.most_common(top)]
    return "\n".join(out)


# -- 4. and 5. A/B ------------------------------------------------------------------------------

def access_line_ab(s: Stack, seconds: int, tmp: Path, rounds: int = 3) -> str:
    """CPU a request (/proc) with the access line on and off: steadier than req/s on a shared box."""
    ops = operations(s)
    results: dict[tuple[str, str, bool], list[Run]] = {}
    for _ in range(rounds):
        for on in (True, False):
            s.restart("segmentation", access_log=on)
            s.restart("gateway", access_log=on)
            for op in (ops[0], ops[1]):
                for target in ("direct", "gateway"):
                    base, script = script_for(s, op, target)
                    wrk(base, script, 16, 1, tmp)
                    results.setdefault((op.name, target, on), []).append(
                        wrk(base, script, 16, seconds, tmp, pids_for(s, op, target)))
    s.restart("segmentation", access_log=True)
    s.restart("gateway", access_log=True)
    lines = [f"Access line on vs off (segmentation and gateway restarted with PENTAD_ACCESS_LOG; wrk -c16, "
             f"{seconds}s, A/B x{rounds}, medians; CPU = the processes doing the work, /proc):"]
    for op in (ops[0], ops[1]):
        for target in ("direct", "gateway"):
            on, off = results[(op.name, target, True)], results[(op.name, target, False)]
            cpu_on = statistics.median(r.cpu_us for r in on)
            cpu_off = statistics.median(r.cpu_us for r in off)
            rps_on = statistics.median(r.rps for r in on)
            rps_off = statistics.median(r.rps for r in off)
            lines.append(f"  {op.name:<19} {target:<8} CPU/request on {cpu_on:>7,.0f} us  off {cpu_off:>7,.0f} us  "
                         f"line {cpu_on - cpu_off:+5.0f} us ({100 * (cpu_on - cpu_off) / cpu_on:+5.1f}%)   "
                         f"req/s on {rps_on:,.0f} off {rps_off:,.0f}")
    return "\n".join(lines)


def access_line_inprocess(n: int = 20000) -> str:
    """The line alone: the kit's structlog set-up (JSON to /dev/null), as RequestContext emits it."""
    code = f"""
import os, time, structlog
from pentad.logging import configure_logging
sink = open(os.devnull, "w")
configure_logging(service="segmentation", fmt="json", stream=sink)
log = structlog.get_logger("pentad.http")
structlog.contextvars.bind_contextvars(request_id="0123456789abcdef0123456789abcdef")
for _ in range(1000):
    log.info("request", method="GET", path="/segments", status=200, duration_ms=1.234)
t = time.perf_counter()
for _ in range({n}):
    log.info("request", method="GET", path="/segments", status=200, duration_ms=1.234)
print((time.perf_counter() - t) / {n} * 1e6)
"""
    us = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.strip())
    return f"The access line alone, in-process (structlog JSON to /dev/null): {us:.1f} us a request"


def pre_ping_ab(s: Stack, seconds: int, tmp: Path, rounds: int = 3) -> str:
    op = operations(s)[1]  # one segment by id: the cheapest read, where round trips show most
    results: dict[tuple[int, bool], list[Run]] = {}
    for _ in range(rounds):
        for ping in (False, True):
            s.restart_minimal(BENCH_PRE_PING="1" if ping else "0")
            base, script = script_for(s, op, "minimal")
            for c in (1, 16):
                wrk(base, script, c, 1, tmp)
                results.setdefault((c, ping), []).append(wrk(base, script, c, seconds, tmp, (s.pid("minimal"),)))
    s.restart_minimal()
    lines = [f"pool_pre_ping priced on the minimal app ({op.name}, {seconds}s, A/B x{rounds}, medians):"]
    for c in (1, 16):
        m = {ping: (statistics.median(r.rps for r in results[(c, ping)]),
                    statistics.median(r.p50_ms for r in results[(c, ping)]),
                    statistics.median(r.cpu_us for r in results[(c, ping)])) for ping in (False, True)}
        (r0, p0, c0), (r1, p1, c1) = m[False], m[True]
        lines.append(f"  c={c:<3} without: {r0:>6,.0f} r/s p50 {p0:.3f} ms CPU {c0:,.0f} us   with: {r1:>6,.0f} r/s "
                     f"p50 {p1:.3f} ms CPU {c1:,.0f} us   -> pre-ping costs {100 * (1 - r1 / r0):.1f}% of req/s, "
                     f"{p1 - p0:+.3f} ms p50, {c1 - c0:+,.0f} us CPU a request")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "var" / "kit-profile"))
    ap.add_argument("--skip", default="", help="comma-separated: roundtrips,connections,pyspy,access,preping")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for backend in args.backends.split(","):
        pg = backend == "postgresql"
        settings = {"log_statement": "all"} if pg and "roundtrips" not in skip else None
        print(f"\n==================== {backend} ====================", flush=True)
        with stack(backend, pg_settings=settings) as s:
            tmp = s.data
            if settings:
                print(round_trips(s, pg_log()), flush=True)
                # Stop logging (later runs measure and must not pay for it): new sessions, no setting.
                asyncio.run(pg_admin(f'ALTER DATABASE "{s.pg_names["segmentation"]}" RESET log_statement'))
                s.restart("segmentation", access_log=True)
            if not pg and "roundtrips" not in skip:
                print(sqlite_statements(s), flush=True)
            if pg and "connections" not in skip:
                print("\n" + connections_under_load(s, args.seconds, tmp), flush=True)
            if "pyspy" not in skip:
                for name, op_index in (("segmentation", 0), ("segmentation", 1), ("gateway", 1)):
                    raw = out / f"{backend}-{name}-op{op_index}.txt"
                    note = pyspy(s.pid(name), s, args.seconds, raw, tmp, op_index)
                    print(f"\npy-spy on the {name} process {note}; raw stacks: {raw}")
                    print(summarize(raw), flush=True)
            if "access" not in skip:
                print("\n" + access_line_ab(s, max(3, args.seconds // 3), tmp), flush=True)
            if pg and "preping" not in skip:
                print("\n" + pre_ping_ab(s, max(3, args.seconds // 3), tmp), flush=True)
    if "access" not in skip:
        print("\n" + access_line_inprocess())


if __name__ == "__main__":
    main()
