"""Issue 13: the kit's read and write paths against a minimal app on the same data, same run.

    python bench/kit.py [--duration 5] [--backends sqlite,postgresql] [--rounds 1]

For each backend it builds the Segmentation, Integration and gateway databases with the
project's migrations (PostgreSQL: fresh databases on 127.0.0.1:5432, or PENTAD_BENCH_PG,
dropped afterwards; SQLite: files in a temporary directory), loads a small destination
through the real API (50 segments, 20 stakeholders, 30 packages priced in EUR and GBP, an
FX table), then starts the real processes (``python -m launcher.serve``, access lines on, as
in production) and bench/minimal_app.py (uvicorn, uvloop + httptools, no access log) on
the same databases. wrk (``-t1``) drives each operation at 1 and 16 connections against
the minimal app, Pentad through the gateway and Pentad's service port directly (identity
signed here, as the gateway would), one right after the other, so the ratios compare
figures taken under the same load from whatever else runs on the machine.

Targets (Pentad through the gateway / minimal app): reads >= 0.7, PATCH >= 0.6.
Before measuring, every operation's answer from Pentad is compared with the minimal app's
(they must be equal JSON). Exits non-zero if any request answered non-2xx (or failed).
Ingest is bench/capacity_ingest.py (``make bench-kit`` runs both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import wait_up  # noqa: E402
from pentad import migrate  # noqa: E402
from pentad.components import SERVICE_NAMES as SERVICES  # noqa: E402
from pentad.identity import Caller, Role, sign  # noqa: E402
from tests.support import free_port_block  # noqa: E402

PG = os.environ.get("PENTAD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "bench-kit-secret"
BENCH_CALLER = Caller("key_bench", Role.admin)
COMPONENTS = ("gateway", "segmentation", "integration")
TARGETS = {"read": 0.7, "write": 0.6}


# -- the destination --------------------------------------------------------------------------

FX = {"base": "EUR", "rates": {"USD": "1.0812", "GBP": "0.8465", "CHF": "0.9380", "SEK": "11.2450",
                               "NOK": "11.6900", "DKK": "7.4590"}}
_OFFERS = [  # (family, specialties, markets, languages, payers, motivation, currency)
    ("medical", ["orthopaedics", "rehabilitation"], ["DE", "AT", "CH"], ["de", "en"], ["self_pay", "insurer"],
     "have_to", "EUR"),
    ("dental", ["dental_implantology", "cosmetic_dentistry"], ["GB", "IE"], ["en"], ["self_pay"], "want_to", "GBP"),
    ("wellness", ["spa_therapies", "wellness_programmes"], ["SE", "NO", "DK", "FI"], ["en", "sv"], ["self_pay"],
     "want_to", "EUR"),
    ("medical", ["cardiology", "rehabilitation"], ["IT", "SI"], ["it", "en"], ["insurer", "government"], "have_to",
     "EUR"),
    ("medical", ["fertility_ivf"], ["IT"], ["it", "en"], ["self_pay"], "have_to", "EUR"),
    ("medical", ["ophthalmology", "checkups"], ["GB", "NL"], ["en", "nl"], ["self_pay"], "want_to", "GBP"),
    ("medical", ["bariatric"], ["GB", "IE", "NO"], ["en"], ["self_pay"], "have_to", "GBP"),
    ("spa", ["spa_therapies"], ["AT", "HU", "SI"], ["de", "hu"], ["self_pay", "insurer"], "want_to", "EUR"),
    ("sports", ["sports_medicine", "rehabilitation"], ["DE", "FR"], ["de", "fr", "en"], ["self_pay"], "have_to",
     "EUR"),
    ("accessible", ["dialysis_travel", "accessible_stays"], ["DE", "NL", "BE"], ["de", "nl", "en"],
     ["insurer"], "have_to", "EUR"),
]


def segment_bodies(n: int = 50) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        family, specs, markets, langs, payers, motivation, cur = _OFFERS[i % len(_OFFERS)]
        low = 800 + 450 * (i % 13)
        out.append({
            "name": f"Segment {i:02d}: {', '.join(specs)} for {'/'.join(markets)}", "family": family,
            "specialties": specs, "source_markets": markets, "payer_types": payers, "motivation": motivation,
            "price_band": {"min": {"amount": f"{low}", "currency": cur},
                           "max": {"amount": f"{low * 3 + 250}.50", "currency": cur}},
            "languages": langs,
            "demand": {"annual_patients": 300 + 137 * i, "avg_spend": {"amount": f"{low * 2}.25", "currency": cur},
                       "growth_rate": f"0.0{i % 10}"},
            "threshold": {"min_accredited_providers": 1 + i % 4, "min_weekly_capacity": 10 + 5 * (i % 9)}})
    return out


STAKEHOLDERS: list[tuple[str, list[str]]] = [  # (kind, specialties)
    ("hospital", ["orthopaedics", "rehabilitation", "cardiology"]),
    ("hospital", ["oncology", "checkups", "cardiology"]),
    ("hospital", ["bariatric", "cosmetic_plastic"]),
    ("hospital", ["orthopaedics", "sports_medicine"]),
    ("clinic", ["fertility_ivf"]),
    ("clinic", ["ophthalmology", "checkups"]),
    ("clinic", ["cosmetic_plastic", "dialysis_travel"]),
    ("dental", ["dental_implantology", "cosmetic_dentistry"]),
    ("dental", ["dental_implantology"]),
    ("dental", ["cosmetic_dentistry"]),
    ("rehab", ["rehabilitation", "spa_therapies", "cardiology"]),
    ("rehab", ["rehabilitation", "sports_medicine"]),
    ("wellness", ["spa_therapies", "wellness_programmes"]),
    ("wellness", ["wellness_programmes", "nutrition_programmes"]),
    ("hotel", []), ("hotel", []), ("hotel", []),
    ("transfer", []), ("facilitator", []), ("insurer", []),
]


def package_bodies(ids: list[str], n: int = 30) -> list[dict[str, Any]]:
    providers = [(ids[i], specs) for i, (kind, specs) in enumerate(STAKEHOLDERS) if specs]
    hotels = [ids[i] for i, (kind, _) in enumerate(STAKEHOLDERS) if kind == "hotel"]
    transfer = ids[next(i for i, (kind, _) in enumerate(STAKEHOLDERS) if kind == "transfer")]
    rehab = ids[next(i for i, (kind, _) in enumerate(STAKEHOLDERS) if kind == "rehab")]
    out = []
    for i in range(n):
        who, specs = providers[i % len(providers)]
        cur, other = ("GBP", "EUR") if i % 3 == 0 else ("EUR", "GBP")
        components = [
            {"kind": "treatment", "stakeholder_id": who, "description": f"Treatment {i}",
             "price": {"amount": f"{1500 + 317 * i}.{i % 100:02d}", "currency": cur}},
            {"kind": "stay", "stakeholder_id": hotels[i % len(hotels)], "description": f"{3 + i % 12} nights",
             "price": {"amount": f"{(3 + i % 12) * 95}", "currency": other}},
            {"kind": "transfer", "stakeholder_id": transfer, "description": "Airport return",
             "price": {"amount": "90.00", "currency": "EUR"}}]
        if i % 2:
            components.append({"kind": "aftercare", "stakeholder_id": rehab, "description": "Physiotherapy",
                               "price": {"amount": f"{250 + 40 * (i % 7)}.75", "currency": cur}})
        out.append({"name": f"Package {i:02d}", "specialty": specs[i % len(specs)], "components": components})
    return out


def load_destination(gateway: str, key: str) -> tuple[list[str], list[str]]:
    """Through the gateway, as a DMO's back office would: returns segment and package ids."""
    with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        c.put("/integration/fx-rates", json=FX).raise_for_status()
        segment_ids = []
        for body in segment_bodies():
            r = c.post("/segmentation/segments", json=body)
            r.raise_for_status()
            segment_ids.append(r.json()["id"])
        stakeholder_ids = []
        for i, (kind, specs) in enumerate(STAKEHOLDERS):
            r = c.post("/integration/stakeholders", json={
                "kind": kind, "name": f"Bench {kind} {i}", "country": "HR", "city": "Rijeka",
                "languages": ["hr", "en"], "specialties": specs})
            r.raise_for_status()
            stakeholder_ids.append(r.json()["id"])
        package_ids = []
        for body in package_bodies(stakeholder_ids):
            r = c.post("/integration/packages", json=body)
            r.raise_for_status()
            package_ids.append(r.json()["id"])
    return segment_ids, package_ids


# -- the processes ----------------------------------------------------------------------------

async def pg_admin(*sql: str) -> None:
    conn = await asyncpg.connect(PG + "/postgres")
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


@dataclass
class Stack:
    backend: str
    data: Path
    gateway: str
    services: dict[str, str]
    minimal: str
    key: str
    db_urls: dict[str, str]
    pg_names: dict[str, str]
    segment_ids: list[str]
    package_ids: list[str]
    env: dict[str, str]
    ports: dict[str, int]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def restart(self, component: str, *, access_log: bool) -> None:
        """Stop one Pentad process and start it again (e.g. with the access line off)."""
        stop(self.procs[component])
        self.procs[component] = start_component(component, self.env, self.ports[component], access_log)
        wait_up(f"http://127.0.0.1:{self.ports[component]}/health/live")

    def restart_minimal(self, **extra_env: str) -> None:
        stop(self.procs["minimal"])
        self.procs["minimal"] = start_minimal(self.ports["minimal"], self.db_urls, **extra_env)
        wait_minimal(self.minimal, self.segment_ids[0])


def start_component(component: str, env: dict[str, str], port: int, access_log: bool = True
                    ) -> subprocess.Popen[bytes]:
    e = {**env, "PENTAD_SERVICE": component, "PENTAD_PORT": str(port),
         "PENTAD_ACCESS_LOG": "true" if access_log else "false"}
    return subprocess.Popen([sys.executable, "-m", "launcher.serve", component], env=e,
                            stdout=subprocess.DEVNULL, stderr=None, cwd=ROOT)


def start_minimal(port: int, db_urls: dict[str, str], **extra_env: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_SEGMENTATION_URL": db_urls["segmentation"],
           "BENCH_INTEGRATION_URL": db_urls["integration"], **extra_env}
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.minimal_app:app", "--port", str(port),
                             "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=None, cwd=ROOT)


def wait_minimal(url: str, segment_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/segments/{segment_id}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the minimal app did not come up")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def stack(backend: str, *, access_log: bool = True, pg_settings: dict[str, str] | None = None,
          with_minimal: bool = True) -> Iterator[Stack]:
    """Databases migrated and filled, gateway + Segmentation + Integration (+ the minimal app) up.

    ``pg_settings`` are set on the Segmentation database (``ALTER DATABASE ... SET``), e.g.
    ``{"log_statement": "all"}`` for counting round trips.
    """
    run = uuid.uuid4().hex[:8]
    data = Path(tempfile.mkdtemp(prefix=f"pentad-kit-{backend}-"))
    base = free_port_block(len(SERVICES) + 2)
    urls = {s: f"http://127.0.0.1:{base + i}" for i, s in enumerate(SERVICES, start=1)}
    env = {**os.environ, "PENTAD_SECRET": SECRET, "PENTAD_DATA_DIR": str(data), "PENTAD_LOG_FORMAT": "json",
           "PENTAD_SERVICE_URLS": json.dumps(urls),
           "PENTAD_RATE_LIMIT_PER_SECOND": "1000000000", "PENTAD_RATE_LIMIT_BURST": "1000000000"}
    pg_names: dict[str, str] = {}
    if backend == "postgresql":
        pg_names = {c: f"pentad_kit_{run}_{c}" for c in COMPONENTS}
        env["PENTAD_DATABASE_URL"] = f"postgresql+asyncpg://{PG.split('://', 1)[1]}/pentad_kit_{run}_{{service}}"
        db_urls = {c: env["PENTAD_DATABASE_URL"].replace("{service}", c) for c in COMPONENTS}
    elif backend == "sqlite":
        db_urls = {c: f"sqlite+aiosqlite:///{data / f'{c}.db'}" for c in COMPONENTS}
    else:
        raise ValueError(f"unknown backend {backend!r}")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports = {"gateway": base, "segmentation": base + 1, "integration": base + 2}
    try:
        if pg_names:
            asyncio.run(pg_admin(*(f'CREATE DATABASE "{n}"' for n in pg_names.values())))
            asyncio.run(pg_admin(*(f'ALTER DATABASE "{pg_names["segmentation"]}" SET {k} = \'{v}\''
                                   for k, v in (pg_settings or {}).items())))
        for c in COMPONENTS:
            migrate.upgrade(c, db_urls[c])
        for component in ("segmentation", "integration", "gateway"):
            procs[component] = start_component(component, env, ports[component], access_log)
            wait_up(f"http://127.0.0.1:{ports[component]}/health/live")
        gateway = f"http://127.0.0.1:{base}"
        key = (data / "admin.key").read_text().strip()
        segment_ids, package_ids = load_destination(gateway, key)
        minimal = ""
        if with_minimal:
            ports["minimal"] = base + len(SERVICES) + 1
            procs["minimal"] = start_minimal(ports["minimal"], db_urls)
            minimal = f"http://127.0.0.1:{ports['minimal']}"
            wait_minimal(minimal, segment_ids[0])
        yield Stack(backend, data, gateway, {"segmentation": urls["segmentation"],
                                             "integration": urls["integration"]},
                    minimal, key, db_urls, pg_names, segment_ids, package_ids, env, ports, procs)
    finally:
        for proc in procs.values():
            stop(proc)
        if pg_names:
            asyncio.run(pg_admin(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in pg_names.values())))
        shutil.rmtree(data, ignore_errors=True)


# -- wrk --------------------------------------------------------------------------------------

@dataclass
class Run:
    rps: float
    p50_ms: float
    bad: int  # non-2xx answers and socket errors
    detail: str = ""
    cpu_us: float = float("nan")  # CPU the measured processes spent a request (all their threads)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lua(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for these values


def request_script(method: str, requests: list[tuple[str, list[tuple[str, str]]]], patch_tag: str = "") -> str:
    """A wrk script cycling through (target, headers); PATCH bodies rename with a unique name."""
    rows = ",\n".join("{" + _lua(t) + ", {" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in h) + "}}"
                      for t, h in requests)
    body = (f"'{{\"name\": \"Bench {patch_tag} ' .. n .. '\"}}'" if method == "PATCH" else "nil")
    return f"""
local reqs = {{
{rows}
}}
local n = 0
request = function()
  n = n + 1
  local r = reqs[(n % #reqs) + 1]
  local headers = {{}}
  for k, v in pairs(r[2]) do headers[k] = v end
  return wrk.format("{method}", r[1], headers, {body})
end
"""


def wrk(url: str, script: str, connections: int, duration: float, tmp: Path,
        pids: tuple[int, ...] = ()) -> Run:
    """One wrk run; with ``pids``, also the CPU those processes spent a request meanwhile."""
    path = tmp / f"wrk-{uuid.uuid4().hex[:8]}.lua"
    path.write_text(script)
    # A 10 s timeout (wrk: 2 s): SQLite writers queue on the lock and a busy box is slow; slower is still
    # counted as a failure.
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "--latency", "-s", str(path), url]
    before = sum(process_cpu(p) for p in pids)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = sum(process_cpu(p) for p in pids) - before
    path.unlink()
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    if m is None or lat is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    p50 = float(lat.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[lat.group(2)]
    bad = 0
    detail = []
    if non2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        bad += int(non2xx.group(1))
        detail.append(f"{non2xx.group(1)} non-2xx")
    if sock := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors = sum(int(g) for g in sock.groups())
        bad += errors
        if errors:
            detail.append(sock.group(0))
    done = re.search(r"(\d+) requests in", out)
    requests = int(done.group(1)) if done else 0
    cpu_us = cpu / requests * 1e6 if pids and requests else float("nan")
    return Run(float(m.group(1)), p50, bad, "; ".join(detail), cpu_us)


# -- the operations ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    name: str
    kind: str  # read / write
    service: str
    method: str
    targets: tuple[str, ...]  # service-relative targets, cycled (path and query)


def operations(s: Stack) -> list[Op]:
    return [
        Op("GET /segments", "read", "segmentation", "GET", ("/segments",)),
        Op("GET /segments/{id}", "read", "segmentation", "GET", (f"/segments/{s.segment_ids[0]}",)),
        Op("GET /packages?GBP", "read", "integration", "GET", ("/packages?currency=GBP",)),
        Op("PATCH /segments/{id}", "write", "segmentation", "PATCH",
           tuple(f"/segments/{i}" for i in s.segment_ids)),
    ]


def pids_for(s: Stack, op: Op, target: str) -> tuple[int, ...]:
    """The processes that do the work of ``target``: their CPU a request is reported."""
    if target == "minimal":
        return (s.pid("minimal"),)
    return (s.pid("gateway"), s.pid(op.service)) if target == "gateway" else (s.pid(op.service),)


def script_for(s: Stack, op: Op, target: str) -> tuple[str, str]:
    """(base url, wrk script) for ``target`` in minimal / gateway / direct."""
    tag = uuid.uuid4().hex[:8]
    json_ct = [("Content-Type", "application/json")] if op.method == "PATCH" else []
    if target == "minimal":
        return s.minimal, request_script(op.method, [(t, json_ct) for t in op.targets], tag)
    if target == "gateway":
        auth = [("Authorization", f"Bearer {s.key}"), *json_ct]
        return s.gateway, request_script(op.method, [(f"/{op.service}{t}", auth) for t in op.targets], tag)
    reqs = [(t, [*sign(SECRET.encode(), method=op.method, path=t, caller=BENCH_CALLER, request_id="bench"),
                 ("X-Request-ID", "bench"), *json_ct]) for t in op.targets]
    return s.services[op.service], request_script(op.method, reqs, tag)


def _client_call(client: httpx.Client, s: Stack, op: Op, target: str, body: dict[str, str] | None
                 ) -> httpx.Response:
    t = op.targets[0]
    if target == "minimal":
        return client.request(op.method, s.minimal + t, json=body)
    if target == "gateway":
        return client.request(op.method, f"{s.gateway}/{op.service}{t}", json=body,
                              headers={"Authorization": f"Bearer {s.key}"})
    headers = dict(sign(SECRET.encode(), method=op.method, path=t, caller=BENCH_CALLER, request_id="bench"))
    return client.request(op.method, s.services[op.service] + t, json=body,
                          headers={**headers, "X-Request-ID": "bench"})


def check_equivalent(s: Stack, ops: list[Op]) -> list[str]:
    """Each operation answers 2xx everywhere, and Pentad's JSON equals the minimal app's."""
    problems = []
    with httpx.Client(timeout=10) as client:
        for op in ops:
            answers = {}
            for target in ("minimal", "gateway", "direct"):
                body = {"name": f"Sanity {target}"} if op.method == "PATCH" else None
                r = _client_call(client, s, op, target, body)
                if not 200 <= r.status_code < 300:
                    problems.append(f"{op.name} via {target}: {r.status_code} {r.text[:200]}")
                    continue
                answers[target] = r.json()
            if len(answers) < 3:
                continue
            if op.method == "PATCH":  # each renamed it in turn: compare all but what changed
                for a in answers.values():
                    a.pop("name", None)
                    a.pop("updated_at", None)
            for target in ("gateway", "direct"):
                if answers[target] != answers["minimal"]:
                    problems.append(f"{op.name}: {target} answers other JSON than the minimal app:\n"
                                    f"  pentad:  {json.dumps(answers[target])[:400]}\n"
                                    f"  minimal: {json.dumps(answers['minimal'])[:400]}")
    return problems


# -- main -------------------------------------------------------------------------------------

@dataclass
class Row:
    backend: str
    op: Op
    connections: int
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, target: str) -> Run:
        runs = self.runs[target]
        return Run(statistics.median(r.rps for r in runs), statistics.median(r.p50_ms for r in runs),
                   sum(r.bad for r in runs), "; ".join(r.detail for r in runs if r.detail),
                   statistics.median(r.cpu_us for r in runs))


def bench_backend(backend: str, duration: float, rounds: int, connections: list[int]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    problems: list[str] = []
    with stack(backend) as s:
        ops = operations(s)
        problems += check_equivalent(s, ops)
        tmp = s.data
        rows = [Row(backend, op, c) for op in ops for c in connections]
        for _ in range(rounds):
            for row in rows:
                for target in ("minimal", "gateway", "direct"):
                    base, script = script_for(s, row.op, target)
                    wrk(base, script, row.connections, 1, tmp)  # warm-up: pools, caches, JIT-less but hot
                    run = wrk(base, script, row.connections, duration, tmp, pids_for(s, row.op, target))
                    row.runs.setdefault(target, []).append(run)
                    if run.bad:
                        problems.append(f"{backend} {row.op.name} c={row.connections} via {target}: {run.detail}")
                print(f"  {backend:<10} {row.op.name:<20} c={row.connections:<3} " + "  ".join(
                    f"{t} {row.runs[t][-1].rps:,.0f}" for t in ("minimal", "gateway", "direct")), flush=True)
    return rows, problems


def print_table(rows: list[Row], duration: float, rounds: int) -> None:
    print(f"\nwrk -t1, {duration:g}s a run after a 1s warm-up, median of {rounds} round(s), {os.cpu_count()} cores; "
          f"access lines on in Pentad. Targets (gateway / minimal): reads >= {TARGETS['read']}x, "
          f"PATCH >= {TARGETS['write']}x.")
    head = (f"{'backend':<10} {'operation':<20} {'c':>2} {'minimal':>8} {'gateway':>8} {'ratio':>6} {'direct':>8} "
            f"{'ratio':>6} | {'p50 min':>7} {'p50 gw':>7} {'p50 dir':>7} | {'cpu min':>7} {'cpu gw':>7} "
            f"{'cpu dir':>7} | verdict")
    print(head)
    print("-" * len(head))
    for row in rows:
        m, g, d = row.median("minimal"), row.median("gateway"), row.median("direct")
        target = TARGETS[row.op.kind]
        ratio = g.rps / m.rps
        print(f"{row.backend:<10} {row.op.name:<20} {row.connections:>2} {m.rps:>8,.0f} {g.rps:>8,.0f} "
              f"{ratio:>5.2f}x {d.rps:>8,.0f} {d.rps / m.rps:>5.2f}x | {m.p50_ms:>7.2f} {g.p50_ms:>7.2f} "
              f"{d.p50_ms:>7.2f} | {m.cpu_us:>7,.0f} {g.cpu_us:>7,.0f} {d.cpu_us:>7,.0f} | "
              f"{'PASS' if ratio >= target else 'FAIL'} (>= {target})")
    print("req/s; p50 in ms; cpu = CPU microseconds a request spent by the processes doing the work (minimal app; "
          "gateway + service; service alone), from /proc.\n'direct' = the service port with the identity signed by "
          "the bench (no gateway); 'ratio' = that column / minimal.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every run; the table shows medians")
    ap.add_argument("--connections", default="1,16")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/kit.py needs wrk: apt-get install -y wrk")
    connections = [int(c) for c in args.connections.split(",")]
    all_rows: list[Row] = []
    problems: list[str] = []
    for backend in args.backends.split(","):
        print(f"{backend}: migrating, loading the destination, starting the processes...", flush=True)
        rows, found = bench_backend(backend.strip(), args.duration, args.rounds, connections)
        all_rows += rows
        problems += found
    print_table(all_rows, args.duration, args.rounds)
    if problems:
        print("\nFAILED REQUESTS / MISMATCHES:\n" + "\n".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
