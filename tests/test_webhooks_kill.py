"""The webhook sender SIGKILLed mid-delivery: nothing lost, nothing sent twice to a healthy receiver.

The services and the gateway's API run in this process; the webhook loop runs as processes of
its own (``python -m gateway.webhooks.worker``, the loop the gateway runs in the background),
so it can be killed without taking the rest down. The receiver acknowledges (2xx) only
requests whose sender is still connected when it answers: a request cut by the kill was never
acknowledged, so the sender must send it again, and everything acknowledged must never be
sent again. The recovery runs two senders at once, as two gateway replicas would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app as create_gateway
from pentad.components import SERVICE_NAMES
from tests.support import SECRET, build, free_port, serving, settings_for
from tests.test_webhooks import Receiver, until, verified

SEGMENTS = 10  # per phase


class Workers:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env, self.procs = tmp, env, []  # type: ignore[var-annotated]

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "gateway.webhooks.worker"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def logs(self) -> str:
        return "\n".join((self.tmp / f"worker-{i}.log").read_text()[-3000:] for i in range(len(self.procs)))


@contextmanager
def workers(tmp: Path, env: dict[str, str]) -> Iterator[Workers]:
    w = Workers(tmp, env)
    try:
        yield w
    finally:
        w.stop_all()


@pytest.fixture
async def setup(databases: Any, tmp: Path) -> AsyncIterator[tuple[str, str, dict[str, str]]]:
    """(gateway URL, admin key, the worker's environment): the gateway runs no webhook loop itself."""
    async with AsyncExitStack() as stack:
        urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
        for name in SERVICE_NAMES:
            settings = settings_for(name, await databases.new(name), tmp, service_urls=urls)
            await stack.enter_async_context(serving(build(name, settings), int(urls[name].rsplit(":", 1)[1])))
        gateway_db = await databases.new("gateway")
        gw = settings_for("gateway", gateway_db, tmp, service_urls=urls, webhooks_poll_seconds=0,
                          webhooks_allow_private=True)
        url = await stack.enter_async_context(serving(create_gateway(gw)))
        env = {**os.environ, "PENTAD_DATABASE_URL": gateway_db, "PENTAD_SECRET": SECRET,
               "PENTAD_SERVICE_URLS": json.dumps(urls), "PENTAD_DATA_DIR": str(tmp), "PENTAD_LOG_FORMAT": "json",
               "PENTAD_WEBHOOKS_ALLOW_PRIVATE": "true", "PENTAD_WEBHOOKS_POLL_SECONDS": "0.05",
               "PENTAD_WEBHOOKS_TIMEOUT_SECONDS": "2", "PENTAD_WEBHOOKS_RETRY_BASE_SECONDS": "0.05"}
        yield url, (tmp / "admin.key").read_text().strip(), env


async def _segments(admin: httpx.AsyncClient, n: int) -> list[str]:
    made = []
    for _ in range(n):
        r = await admin.post("/segmentation/segments", json={
            "name": f"Kill segment {uuid.uuid4().hex[:8]}", "family": "medical", "specialties": ["orthopaedics"],
            "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to",
            "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    return made


async def _all_delivered(admin: httpx.AsyncClient, webhook_id: str, n: int) -> bool:
    items = (await admin.get(f"/gateway/webhooks/{webhook_id}/deliveries", params={"limit": 500})).json()["items"]
    return len(items) == n and all(d["status"] == "delivered" for d in items)


async def test_a_killed_sender_loses_and_duplicates_nothing(setup: tuple[str, str, dict[str, str]],
                                                            tmp: Path) -> None:
    url, key, env = setup
    receiver = Receiver()
    async with serving(receiver) as receiver_url, \
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as admin:
        receiver.url = receiver_url
        path, hook_url = receiver.endpoint("kill")
        r = await admin.post("/gateway/webhooks", json={"url": hook_url, "events": ["segment.created"]})
        assert r.status_code == 201, r.text
        sub = r.json()
        with workers(tmp, env) as w:
            first = w.start()
            # 1. Delivered and acknowledged before the kill.
            before = await _segments(admin, SEGMENTS)
            await until(lambda: _all_delivered(admin, sub["id"], SEGMENTS), "the first deliveries", within=90)
            acked_before = {m.msg_id for m in receiver.acked[path]}
            assert len(acked_before) == SEGMENTS
            # 2. Held by the receiver (in flight) when the sender dies.
            receiver.gate.clear()
            after = await _segments(admin, SEGMENTS)
            await until(lambda: asyncio.sleep(0, receiver.held > 0), "requests in flight", within=90)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            await until(lambda: asyncio.sleep(0, receiver.held == 0), "the cut requests noticed", within=30)
            receiver.gate.set()
            # 3. Two senders (replicas) take over once the dead one's leases expire.
            w.start(), w.start()
            try:
                await until(lambda: _all_delivered(admin, sub["id"], 2 * SEGMENTS), "every delivery", within=120)
            except BaseException:
                print(w.logs())
                raise
    acked = Counter(m.msg_id for m in receiver.acked[path])
    assert len(acked) == 2 * SEGMENTS and set(acked.values()) == {1}, acked  # each acknowledged exactly once
    sent = Counter(m.msg_id for m in receiver.got[path])
    assert all(sent[m] == 1 for m in acked_before), sent  # nothing acknowledged was ever sent again
    events = verified(sub["secret"], receiver.acked[path])
    assert sorted(e["subject"] for e in events) == sorted(before + after)
