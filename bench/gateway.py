"""Gateway overhead: the same route measured directly and through the gateway, same run.

    python bench/gateway.py [--duration 10] [--connections 64]

Starts one service (segmentation) and the gateway as real processes (uvicorn, uvloop,
httptools, access lines on), drives them with wrk (apt-get install wrk), and prints
throughput at N connections and p50 latency at 1 connection, with the ratios the
targets are stated in: gateway/direct throughput >= 0.6, added p50 <= 0.25 ms.
Also measures what the per-request access line costs the service.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pentad.components import SERVICE_NAMES  # noqa: E402
from pentad.identity import Caller, Role, sign  # noqa: E402
from tests.support import free_port_block  # noqa: E402

ROUTE = "/whoami"  # authenticated, no database: the cheapest honest backend route


def start_trivial(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.trivial_backend:app", "--port", str(port),
                             "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=None, cwd=ROOT)


def start(component: str, env: dict[str, str], port: int, access_log: bool) -> subprocess.Popen[bytes]:
    e = {**env, "PENTAD_SERVICE": component, "PENTAD_PORT": str(port),
         "PENTAD_ACCESS_LOG": "true" if access_log else "false"}
    return subprocess.Popen([sys.executable, "-m", "launcher.serve", component], env=e,
                            stdout=subprocess.DEVNULL, stderr=None, cwd=ROOT)


def wait_up(url: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wrk(url: str, headers: list[tuple[str, str]], connections: int, duration: int) -> tuple[float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for k, v in headers:
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx answers from {url}:\n{out}")
    return rps, p50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/gateway.py needs wrk: apt-get install -y wrk")
    data = Path(tempfile.mkdtemp(prefix="pentad-bench-"))
    base = free_port_block(len(SERVICE_NAMES) + 2)
    urls = {s: f"http://127.0.0.1:{base + i}" for i, s in enumerate(SERVICE_NAMES, start=1)}
    secret = "bench-secret"
    env = {**os.environ, "PENTAD_SECRET": secret, "PENTAD_DATA_DIR": str(data),
           "PENTAD_SERVICE_URLS": json.dumps(urls), "PENTAD_LOG_FORMAT": "json",
           "PENTAD_RATE_LIMIT_PER_SECOND": "1000000000", "PENTAD_RATE_LIMIT_BURST": "1000000000"}
    subprocess.run([sys.executable, "-m", "launcher.cli", "migrate", "--data-dir", str(data)], env=env,
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    results: dict[str, tuple[float, float]] = {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for access_log in (True, False):
            svc = start("segmentation", env, base + 1, access_log)
            procs.append(svc)
            wait_up(urls["segmentation"] + "/health/live")
            direct = urls["segmentation"] + ROUTE
            caller = Caller("key_bench", Role.staff)
            signed = sign(secret.encode(), method="GET", path=ROUTE, caller=caller, request_id="bench")
            hdrs = [*signed, ("x-request-id", "bench")]
            wrk(direct, hdrs, args.connections, 2)  # warm-up
            tag = "" if access_log else " (no access line)"
            results["direct" + tag] = (wrk(direct, hdrs, args.connections, args.duration)[0],
                                       wrk(direct, hdrs, 1, args.duration)[1])
            if access_log:
                gw = start("gateway", env, base, True)
                procs.append(gw)
                wait_up(f"http://127.0.0.1:{base}/health/live")
                key = (data / "admin.key").read_text().strip()
                through = f"http://127.0.0.1:{base}/segmentation{ROUTE}"
                auth = [("Authorization", f"Bearer {key}")]
                wrk(through, auth, args.connections, 2)
                results["gateway"] = (wrk(through, auth, args.connections, args.duration)[0],
                                      wrk(through, auth, 1, args.duration)[1])
                gw.terminate()
                gw.wait()
            svc.terminate()
            svc.wait()
        # Against a backend far faster than a real service: the gateway's cost laid bare.
        trivial = start_trivial(base + 1)
        procs.append(trivial)
        wait_up(urls["segmentation"] + ROUTE)
        results["trivial backend direct"] = (wrk(urls["segmentation"] + ROUTE, [], args.connections, args.duration)[0],
                                             wrk(urls["segmentation"] + ROUTE, [], 1, args.duration)[1])
        gw = start("gateway", env, base, True)
        procs.append(gw)
        wait_up(f"http://127.0.0.1:{base}/health/live")
        through = f"http://127.0.0.1:{base}/segmentation{ROUTE}"
        auth = [("Authorization", f"Bearer {(data / 'admin.key').read_text().strip()}")]
        wrk(through, auth, args.connections, 2)
        results["trivial backend via gateway"] = (wrk(through, auth, args.connections, args.duration)[0],
                                                  wrk(through, auth, 1, args.duration)[1])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(data, ignore_errors=True)
    print(f"\nGET {ROUTE}, wrk -t1, {args.connections} connections for throughput, 1 for p50, "
          f"{args.duration}s each, {os.cpu_count()} cores")
    print(f"{'path':<28}{'req/s':>12}{'p50 ms':>10}")
    for name, (rps, p50) in results.items():
        print(f"{name:<28}{rps:>12.0f}{p50:>10.3f}")
    d, g = results["direct"], results["gateway"]
    ratio, added = g[0] / d[0], g[1] - d[1]
    quiet = results["direct (no access line)"]
    print(f"\ngateway/direct throughput: {ratio:.2f}x (target >= 0.60)  "
          f"{'MET' if ratio >= 0.6 else 'MISSED'}")
    print(f"gateway added p50: {added:.3f} ms (target <= 0.25)  {'MET' if added <= 0.25 else 'MISSED'}")
    print(f"access line cost on the service: {(1 - d[0] / quiet[0]) * 100:.1f}% throughput, "
          f"{d[1] - quiet[1]:+.3f} ms p50")
    td, tg = results["trivial backend direct"], results["trivial backend via gateway"]
    print(f"against the trivial backend: {tg[0] / td[0]:.2f}x throughput, {tg[1] - td[1]:+.3f} ms p50 "
          "(the gateway's own cost when the backend costs next to nothing)")


if __name__ == "__main__":
    main()
