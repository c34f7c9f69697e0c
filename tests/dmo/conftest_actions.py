"""Fixtures of the coordinator's action tests (imported by ``test_actions*.py``).

Segmentation, Integration, Administration and Development run for real (uvicorn, in this
process); Promotion is a fake (``fake_promotion.py``) until its branch lands; the
coordinator runs in this process too, its runner on a fast clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pentad.identity import Caller
from services.dmo.app import create_app
from services.dmo.runner import ActionSettings
from tests.dmo.fake_promotion import FakePromotion
from tests.pillars import service_urls, start_pair, unique
from tests.support import SECRET, STAFF, SignedAs, serving, settings_for

PILLARS = ("segmentation", "integration", "administration", "development")
FAST = ActionSettings(poll_seconds=0.2, lease_seconds=2.0, backoff_seconds=0.1, backoff_max_seconds=0.5)


@dataclass
class ActionWorld:
    urls: dict[str, str]
    databases: dict[str, str]
    promotion: FakePromotion
    tmp: Path

    def client(self, service: str, caller: Caller = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.urls[service], auth=SignedAs(caller), timeout=60)


async def start_action_world(stack: AsyncExitStack, databases: Any, tmp: Path, *,
                             config: ActionSettings | None = FAST, external: tuple[str, ...] = ()) -> ActionWorld:
    """The pillars, the fake Promotion and (unless ``config`` is None) the coordinator, in this
    process; those named in ``external`` only get their database and address (a test runs
    them as processes of their own, ``Process``)."""
    urls = service_urls()
    fake = FakePromotion(tmp / "promotion.json")
    if "promotion" not in external:
        await stack.enter_async_context(serving(fake.app(), _port(urls["promotion"])))
    pair = await start_pair(stack, databases, tmp, urls, services=tuple(p for p in PILLARS if p not in external),
                            sweep_interval_seconds=0)
    dbs = {**pair.databases, "dmo": await databases.new("dmo")}
    for name in external:
        if name in PILLARS:
            dbs[name] = await databases.new(name)
    if config is not None:
        app = create_app(settings_for("dmo", dbs["dmo"], tmp, service_urls=urls, sweep_interval_seconds=0),
                         actions=config)
        await stack.enter_async_context(serving(app, _port(urls["dmo"])))
    return ActionWorld(urls, dbs, fake, tmp)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


class Process:
    """A component (or the fake Promotion) as a process of its own, to SIGKILL and start again."""

    def __init__(self, world: ActionWorld, name: str, **env: str) -> None:
        self.world, self.name, self.env = world, name, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = world.tmp / f"{name}.log"

    def _command(self) -> list[str]:
        if self.name == "promotion":
            return [sys.executable, "-m", "tests.dmo.fake_promotion", str(_port(self.world.urls["promotion"])),
                    str(self.world.promotion.path)]
        return [sys.executable, "-m", "launcher.serve", self.name]

    def _spawn(self, environment: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, env=environment)

    async def start(self, **env: str) -> None:
        """Start it (``env`` added to this start only) and wait until it answers."""
        environment = {**os.environ, "PENTAD_SECRET": SECRET, "PENTAD_HOST": "127.0.0.1",
                       "PENTAD_PORT": str(_port(self.world.urls[self.name])),
                       "PENTAD_DATABASE_URL": self.world.databases.get(self.name, ""),
                       "PENTAD_SERVICE_URLS": json.dumps(self.world.urls), "PENTAD_DATA_DIR": str(self.world.tmp),
                       "PENTAD_LOG_FORMAT": "json", "PENTAD_SWEEP_INTERVAL_SECONDS": "0", **self.env, **env}
        self.proc = self._spawn(environment)
        deadline = asyncio.get_running_loop().time() + 30
        async with httpx.AsyncClient(timeout=2) as client:
            while asyncio.get_running_loop().time() < deadline:
                assert self.proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()[-3000:]}"
                try:
                    r = await client.get(self.world.urls[self.name] + ("/campaigns/none" if self.name == "promotion"
                                                                      else "/health/live"))
                    if r.status_code in (200, 401):
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last commit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module", name="actions_world")
async def actions_world_fixture(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ActionWorld]:
    async with AsyncExitStack() as stack:
        yield await start_action_world(stack, databases, tmp_path_factory.mktemp("actions"))


# -- what the tests build and wait for -------------------------------------------------------------

def onboarding(name: str | None = None, *, scheme_id: str = "sch_jci") -> dict[str, Any]:
    return {"stakeholder": {"kind": "clinic", "name": name or unique("Clinic"), "country": "HR", "city": "Rijeka",
                            "languages": ["hr", "en"], "specialties": ["orthopaedics"]},
            "accreditation": {"scheme_id": scheme_id, "certificate_no": unique("JCI"), "issued_on": "2025-03-01",
                              "evidence_url": "https://example.org/certificate"},
            "membership": {"tier": "standard", "dues": {"amount": "1200.00", "currency": "EUR"}}}


async def start(dmo: httpx.AsyncClient, kind: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    r = await dmo.post(f"/actions/{kind}", json=body, headers={"Idempotency-Key": key or unique("key")})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/actions/{r.json()['id']}"
    return dict(r.json())


async def finished(dmo: httpx.AsyncClient, action_id: str, within: float = 30.0) -> dict[str, Any]:
    """The action once it is no longer running."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            r = await dmo.get(f"/actions/{action_id}")
        except httpx.TransportError:  # the coordinator is being restarted
            r = None
        if r is not None:
            assert r.status_code == 200, r.text
            if r.json()["status"] != "running":
                return dict(r.json())
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"action {action_id} still running after {within}s: {r.text if r else 'no answer'}")
        await asyncio.sleep(0.1)


async def ready_segment(world: ActionWorld) -> str:
    """A segment that is ready: nothing to cross but a hotel and a transfer firm, which it gets."""
    async with world.client("segmentation") as seg, world.client("integration") as integ:
        r = await seg.post("/segments", json={
            "name": unique("Ready segment"), "family": "medical", "specialties": ["orthopaedics"],
            "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to", "languages": [],
            "threshold": {"min_accredited_providers": 0, "min_weekly_capacity": 0}})
        assert r.status_code == 201, r.text
        for kind in ("hotel", "transfer"):
            s = await integ.post("/stakeholders", json={"kind": kind, "name": unique(kind), "country": "HR",
                                                        "city": "Opatija"})
            assert s.status_code == 201, s.text
        return str(r.json()["id"])


async def unready_segment(world: ActionWorld, *, providers: int = 2, weekly: int = 30) -> str:
    """A segment short of accredited providers and weekly capacity (no provider has any)."""
    async with world.client("segmentation") as seg:
        r = await seg.post("/segments", json={
            "name": unique("Unready segment"), "family": "medical", "specialties": ["orthopaedics"],
            "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to", "languages": [],
            "threshold": {"min_accredited_providers": providers, "min_weekly_capacity": weekly}})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def stakeholders_named(world: ActionWorld, name: str) -> list[dict[str, Any]]:
    async with world.client("integration") as integ:
        found: list[dict[str, Any]] = []
        for status in ("active", "inactive"):
            r = await integ.get("/stakeholders", params={"status": status, "limit": 500})
            assert r.status_code == 200, r.text
            found += [s for s in r.json()["items"] if s["name"] == name]
        return found


async def administration_of(world: ActionWorld, stakeholder_id: str) -> dict[str, list[dict[str, Any]]]:
    """The stakeholder's accreditations (any status) and memberships, as Administration has them."""
    async with world.client("administration") as adm:
        out: dict[str, list[dict[str, Any]]] = {}
        for collection in ("accreditations", "memberships"):
            r = await adm.get(f"/{collection}", params={"stakeholder_id": stakeholder_id, "limit": 500})
            assert r.status_code == 200, r.text
            out[collection] = r.json()["items"]
        return out
