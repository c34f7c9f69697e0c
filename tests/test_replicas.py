"""Several replicas that agree (issue 11), as real processes on one PostgreSQL database.

Two processes of the Segmentation service, and three gateways, every one of them sending
`/segmentation` to both: gateways A and B share Redis (PENTAD_REDIS_URL), C does not.
All of them use one database URL (each component in its own schema). Proven here:

- the gateways spread requests over both service processes, and when one is SIGKILLed
  every request still succeeds (a refused connection goes to the other, POSTs included);
- across the two service processes, If-Match refuses the stale second writer, one
  Idempotency-Key creates one segment whichever process and gateway the retries reach,
  and the event feed written by both is in commit order, each change once;
- A and B share each key's rate limit: together they admit about one bucket's worth;
- a key revoked through A is refused by B at once (its key cache would trust the key for
  60 s), while C, without Redis, still accepts it from its cache (the documented
  behaviour without Redis).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pentad.components import SERVICE_NAMES
from tests.conftest import pg_or_skip
from tests.support import PG_ADMIN_URL, free_port
from tests.test_e2e_up import _pg
from tests.test_gateway_shared import REDIS_URL
from tests.test_segmentation import segment_body

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
SECRET = "replicas-test-secret-" + "x" * 20
ADMIN_KEY = "pk_" + uuid.uuid4().hex + uuid.uuid4().hex
RATE, BURST = 20, 30  # per key, per second: low enough to see one bucket or two


@dataclass
class Cluster:
    tmp: Path
    database_url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    metrics_ports: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def metrics_port(self, name: str) -> int:
        return self.metrics_ports.setdefault(name, free_port())

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def start(self, name: str, component: str, **env: str) -> None:
        port = free_port()
        self.ports[name] = port
        full = {**os.environ, "PENTAD_SERVICE": component, "PENTAD_PORT": str(port), "PENTAD_HOST": "127.0.0.1",
                "PENTAD_DATABASE_URL": self.database_url, "PENTAD_SECRET": SECRET, "PENTAD_LOG_FORMAT": "json",
                "PENTAD_DATA_DIR": str(self.tmp / name), "PENTAD_SWEEP_INTERVAL_SECONDS": "0", **env}
        with (self.tmp / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "launcher.serve", component], env=full,
                                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    async def wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"{name} exited\n{self.log(name)[-3000:]}")
                try:
                    if (await http.get(self.url(name) + "/health/ready", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{name} not ready\n{self.log(name)[-3000:]}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    await pg_or_skip()
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable ({exc})")
    tmp = tmp_path_factory.mktemp("replicas")
    database = f"pentad_replicas_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_pg, f'CREATE DATABASE "{database}"')
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + "/" + database
    c = Cluster(tmp, url)
    try:
        migrate = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "launcher.cli", "migrate", "--data-dir", str(tmp / "m")],
            env={**os.environ, "PENTAD_DATABASE_URL": url}, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert migrate.returncode == 0, migrate.stderr
        for name in ("seg1", "seg2"):
            c.start(name, "segmentation", PENTAD_METRICS_PORT=str(c.metrics_port(name)))
        nowhere = f"http://127.0.0.1:{free_port()}"  # the services this test does not need
        urls = {s: nowhere for s in SERVICE_NAMES} | {"segmentation": [c.url("seg1"), c.url("seg2")]}
        gateway = {"PENTAD_SERVICE_URLS": json.dumps(urls), "PENTAD_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
                   "PENTAD_KEY_CACHE_SECONDS": "60", "PENTAD_RATE_LIMIT_PER_SECOND": str(RATE),
                   "PENTAD_RATE_LIMIT_BURST": str(BURST), "PENTAD_UPSTREAM_HEALTH_INTERVAL_SECONDS": "0.5"}
        c.start("gwA", "gateway", **gateway, PENTAD_REDIS_URL=REDIS_URL, PENTAD_METRICS_PORT=str(c.metrics_port("gwA")))
        c.start("gwB", "gateway", **gateway, PENTAD_REDIS_URL=REDIS_URL)
        c.start("gwC", "gateway", **gateway)
        for name in c.procs:
            await c.wait_ready(name)
        yield c
    finally:
        c.stop()
        await asyncio.to_thread(_pg, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def call(http: httpx.AsyncClient, method: str, url: str, key: str = ADMIN_KEY, **kw: Any) -> httpx.Response:
    """One request; a 429 (this module's low rate limit) is waited out and sent again."""
    for _ in range(200):
        r = await http.request(method, url, headers={"Authorization": f"Bearer {key}", **kw.pop("headers", {})},
                               **kw)
        if r.status_code != 429:
            return r
        await asyncio.sleep(0.05)
    raise AssertionError(f"{method} {url}: still rate-limited")


async def new_key(http: httpx.AsyncClient, gateway: str, name: str) -> tuple[str, str]:
    r = await call(http, "POST", gateway + "/gateway/keys", json={"name": name, "role": "staff"})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["key"]


async def last_seq(http: httpx.AsyncClient, gateway: str) -> int:
    after = 0
    while True:
        page = (await call(http, "GET", gateway + "/segmentation/events", params={"after": after, "limit": 500})).json()
        if not page["items"]:
            return after
        after = page["items"][-1]["seq"]


async def test_if_match_idempotency_and_event_order_hold_across_two_service_processes(cluster: Cluster) -> None:
    a, b = cluster.url("gwA"), cluster.url("gwB")
    async with httpx.AsyncClient(timeout=30) as http:
        after = await last_seq(http, a)
        # Idempotency-Key: six tries of one create, three through each gateway, at once.
        body, key = segment_body(), {"Idempotency-Key": uuid.uuid4().hex}
        tries = await asyncio.gather(*(call(http, "POST", (a, b)[i % 2] + "/segmentation/segments", json=body,
                                            headers=dict(key)) for i in range(6)))
        created = [r for r in tries if r.status_code == 201]
        assert created and all(r.status_code in (201, 409) for r in tries), [r.text for r in tries]
        assert len({r.json()["id"] for r in created}) == 1
        sid = created[0].json()["id"]
        again = await call(http, "POST", b + "/segmentation/segments", json=body, headers=dict(key))
        assert again.status_code == 201 and again.json()["id"] == sid
        listed = await call(http, "GET", a + "/segmentation/segments", params={"limit": 200})
        assert [s["id"] for s in listed.json()["items"] if s["name"] == body["name"]] == [sid]

        # If-Match: two writers holding version 1, one through each gateway; one wins.
        patches = await asyncio.gather(*(call(http, "PATCH", g + f"/segmentation/segments/{sid}",
                                              json={"name": f"renamed via {g[-5:]}"}, headers={"If-Match": '"1"'})
                                         for g in (a, b)))
        assert sorted(r.status_code for r in patches) == [200, 412], [r.text for r in patches]

        # Event order: 20 creates at once, spread over both gateways and both processes.
        bodies = [segment_body() for _ in range(20)]
        results = await asyncio.gather(*(call(http, "POST", (a, b)[i % 2] + "/segmentation/segments", json=x)
                                         for i, x in enumerate(bodies)))
        assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201]
        events = (await call(http, "GET", b + "/segmentation/events",
                             params={"after": after, "limit": 500})).json()["items"]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
        created_ids = [e["subject"] for e in events if e["type"] == "segment.created"]
        assert sorted(created_ids) == sorted([sid, *(r.json()["id"] for r in results)]), "each creation once"
        assert [e["type"] for e in events if e["subject"] == sid] == ["segment.created", "segment.updated"]
    # Both service processes served: the gateways spread the requests.
    assert "/segments" in cluster.log("seg1") and "/segments" in cluster.log("seg2")


async def test_gateways_with_redis_share_a_keys_rate_limit(cluster: Cluster) -> None:
    a, b = cluster.url("gwA"), cluster.url("gwB")
    async with httpx.AsyncClient(timeout=30) as http:
        _, key = await new_key(http, a, "limited")
        started = time.monotonic()
        answers = await asyncio.gather(*(http.get((a, b)[i % 2] + "/segmentation/whoami",
                                                  headers={"Authorization": f"Bearer {key}"}) for i in range(120)))
        elapsed = time.monotonic() - started
    by_gateway = {g: [r.status_code for i, r in enumerate(answers) if i % 2 == n] for n, g in enumerate("AB")}
    admitted = sum(r.status_code == 200 for r in answers)
    assert {r.status_code for r in answers} <= {200, 429}
    # One bucket of BURST for the two gateways (two buckets would admit 2 x BURST at least).
    assert BURST <= admitted <= BURST + RATE * elapsed + 2, (admitted, elapsed)
    assert all(429 in codes and 200 in codes for codes in by_gateway.values()), by_gateway


async def test_a_key_revoked_through_one_gateway_is_refused_by_the_other_at_once(cluster: Cluster) -> None:
    a, b, c = cluster.url("gwA"), cluster.url("gwB"), cluster.url("gwC")
    async with httpx.AsyncClient(timeout=30) as http:
        key_id, key = await new_key(http, a, "to revoke")
        for gateway in (b, c):  # each now trusts the key for 60 s from its cache
            assert (await call(http, "GET", gateway + "/segmentation/whoami", key=key)).status_code == 200
        assert (await call(http, "DELETE", a + f"/gateway/keys/{key_id}")).status_code == 204
        revoked_at = time.monotonic()
        while (status := (await call(http, "GET", b + "/segmentation/whoami", key=key)).status_code) == 200:
            assert time.monotonic() - revoked_at < 1.0, "B still accepts the revoked key"
            await asyncio.sleep(0.005)
        assert status == 401
        # Without Redis, C keeps trusting its cache (PENTAD_KEY_CACHE_SECONDS, here 60 s).
        assert (await call(http, "GET", c + "/segmentation/whoami", key=key)).status_code == 200


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_metrics_are_served_on_their_own_port_and_never_on_the_public_side(cluster: Cluster) -> None:
    a = cluster.url("gwA")
    async with httpx.AsyncClient(timeout=30) as http:
        sid = (await call(http, "POST", a + "/segmentation/segments", json=segment_body())).json()["id"]
        assert (await call(http, "GET", a + f"/segmentation/segments/{sid}")).status_code == 200
        await call(http, "GET", a + "/segmentation/no-such-path")
        gateway = (await http.get(cluster.metrics_url("gwA"))).text
        services = [(await http.get(cluster.metrics_url(n))).text for n in ("seg1", "seg2")]
        # The public side: no key, a 401; the admin key, no such route (on the gateway or a service).
        assert (await http.get(a + "/metrics")).status_code == 401
        assert (await call(http, "GET", a + "/metrics")).status_code == 404
        assert (await call(http, "GET", a + "/segmentation/metrics")).status_code == 404
        assert (await http.get(cluster.metrics_url("gwA").replace("/metrics", "/other"))).status_code == 404

    route = "/segmentation/{path}"
    assert sample(gateway, "pentad_http_requests_total", method="POST", route=route, status="201") >= 1
    assert sample(gateway, "pentad_http_request_duration_seconds_count", method="GET", route=route) >= 1
    assert sample(gateway, "pentad_http_requests_total", method="POST", route="/gateway/keys", status="201") >= 1
    assert sample(gateway, "pentad_gateway_rate_limited_total", limit="key") >= 1  # the shared-limit test's 429s
    for url in (cluster.url("seg1"), cluster.url("seg2")):
        assert sample(gateway, "pentad_gateway_upstream_healthy", service="segmentation", url=url) == 1
        assert sample(gateway, "pentad_gateway_upstream_max_connections", service="segmentation", url=url) == 256
        assert sample(gateway, "pentad_gateway_upstream_connections", service="segmentation", url=url,
                      state="idle") >= 1
    assert "pentad_gateway_upstream_errors_total" in gateway

    assert sum(sample(t, "pentad_http_requests_total", method="POST", route="/segments", status="201")
               for t in services) >= 1
    assert any(sample(t, "pentad_http_requests_total", method="GET", route="/segments/{segment_id}", status="200")
               for t in services), "route templates, not paths"
    assert any(sample(t, "pentad_http_requests_total", method="GET", route="unmatched", status="404") for t in services)
    heads = [sample(t, "pentad_outbox_head_seq") for t in services]
    assert heads[0] == heads[1] > 0, "one feed, read by both processes from the shared database"
    assert sum(sample(t, "pentad_outbox_events_written_total", type="segment.created") for t in services) >= 20


async def test_a_killed_service_process_is_passed_over(cluster: Cluster) -> None:
    a, b = cluster.url("gwA"), cluster.url("gwB")
    cluster.procs["seg1"].send_signal(signal.SIGKILL)
    cluster.procs["seg1"].wait()
    async with httpx.AsyncClient(timeout=30) as http:
        answers = [await call(http, "POST", (a, b)[i % 2] + "/segmentation/segments", json=segment_body())
                   for i in range(10)]
        answers += [await call(http, "GET", (a, b)[i % 2] + "/segmentation/segments") for i in range(10)]
    assert [r.status_code for r in answers] == [201] * 10 + [200] * 10
