"""The whole platform for the proofs (issue 6): the gateway and all six services running as
uvicorn servers in this process, with keys for every kind of caller and a few seeded records.

Every test module of the proofs starts its own (``seeded_platform``): the fuzzer writes
random data, and no proof should depend on what another left behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.test_gateway import Platform, start_platform

MAX_BODY = 1024 * 1024  # PENTAD_MAX_BODY_BYTES of the proofs' gateway
RATES = {"GBP": "0.8563", "USD": "1.0812"}  # the seeded FX table, base EUR


@dataclass
class Tenant:
    """A stakeholder in the register and the bound key that stands for it."""

    id: str
    name: str
    kind: str
    key: str = ""
    key_id: str = ""


@dataclass
class Seeded:
    platform: Platform
    keys: dict[str, str]  # admin, staff, revoked, provider_a/_b, facilitator_a/_b
    hospital_a: Tenant
    hospital_b: Tenant
    agent_a: Tenant
    agent_b: Tenant
    hotel: Tenant
    transfer: Tenant
    specialty: str
    segment: dict[str, Any]
    package: dict[str, Any]  # published, parties: hospital A, the hotel and the transfer firm
    closed: Tenant  # an inactive clinic: hidden from providers and facilitators
    withdrawn: dict[str, Any]  # a package the DMO withdrew: hidden from providers and facilitators
    staff_key_id: str
    revoked_key_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.platform.url

    def client(self, who: str | None = None, **kw: Any) -> httpx.AsyncClient:
        """A client of the gateway as ``who`` (a name in ``keys``), or without a key."""
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, **{"timeout": 60, **kw})

    async def feed_head(self, service: str) -> int:
        """The last ``seq`` of a service's event feed (read as admin, resumed from the last call)."""
        heads: dict[str, int] = self.extra.setdefault("feed_heads", {})
        after = heads.get(service, 0)
        async with self.client("admin") as admin:
            while True:
                r = await admin.get(f"/{service}/events", params={"after": after, "limit": 500})
                assert r.status_code == 200, r.text
                page = r.json()
                if page["items"]:
                    after = page["items"][-1]["seq"]
                if page["next_cursor"] is None:
                    break
        heads[service] = after
        return after


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def _ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


async def seed(p: Platform) -> Seeded:
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=p.url, headers={"Authorization": f"Bearer {p.admin_key}"},
                                 timeout=60) as admin:
        specialty = "orthopaedics"

        async def register(kind: str, label: str, specialties: list[str] | None = None) -> Tenant:
            name = f"Proof {label} {tag}"
            body = {"kind": kind, "name": name, "country": "HR", "city": "Rijeka",
                    "languages": ["hr", "en"], "specialties": specialties or []}
            made = await _ok(await admin.post("/integration/stakeholders", json=body))
            return Tenant(made["id"], name, kind)

        async def key(role: str, tenant: Tenant | None = None, name: str = "") -> tuple[str, str]:
            made = await _ok(await admin.post("/gateway/keys", json={
                "name": name or f"proof {role}", "role": role, "stakeholder_id": tenant.id if tenant else None}))
            if tenant:
                tenant.key, tenant.key_id = made["key"], made["id"]
            return made["key"], made["id"]

        hospital_a = await register("hospital", "Hospital A", [specialty])
        hospital_b = await register("hospital", "Hospital B", [specialty])
        agent_a = await register("facilitator", "Agent A")
        agent_b = await register("facilitator", "Agent B")
        hotel = await register("hotel", "Hotel")
        transfer = await register("transfer", "Transfer")
        closed = await register("clinic", "Closed clinic", [specialty])
        for tenant in (hospital_a, hospital_b):
            await key("provider", tenant)
        for tenant in (agent_a, agent_b):
            await key("facilitator", tenant)
        staff, staff_id = await key("staff")
        revoked, revoked_id = await key("staff", name="proof revoked")
        await _ok(await admin.delete(f"/gateway/keys/{revoked_id}"), 204)

        await _ok(await admin.post(f"/integration/stakeholders/{hospital_a.id}/capacity", json={"rows": [
            {"specialty": specialty, "date": day(d), "slots_total": 8, "slots_available": 3} for d in (1, 2, 3)]}),
            200)
        await _ok(await admin.put("/integration/fx-rates", json={"base": "EUR", "rates": RATES}), 200)
        package = await _ok(await admin.post("/integration/packages", json={
            "name": f"Proof knee {tag}", "specialty": specialty, "components": [
                {"kind": "treatment", "stakeholder_id": hospital_a.id, "description": "Knee replacement",
                 "price": {"amount": "5200.00", "currency": "EUR"}},
                {"kind": "stay", "stakeholder_id": hotel.id, "description": "Ten nights",
                 "price": {"amount": "900.00", "currency": "EUR"}},
                {"kind": "transfer", "stakeholder_id": transfer.id, "description": "Airport transfers",
                 "price": {"amount": "120.00", "currency": "USD"}}]}))
        withdrawn = await _ok(await admin.post("/integration/packages", json={
            "name": f"Proof withdrawn {tag}", "specialty": specialty, "components": [
                {"kind": "treatment", "stakeholder_id": closed.id, "description": "Hip replacement",
                 "price": {"amount": "6100.00", "currency": "EUR"}}]}))
        withdrawn = await _ok(await admin.patch(f"/integration/packages/{withdrawn['id']}",
                                                json={"status": "withdrawn"}), 200)
        await _ok(await admin.patch(f"/integration/stakeholders/{closed.id}", json={"status": "inactive"}), 200)
        segment = await _ok(await admin.post("/segmentation/segments", json={
            "name": f"Proof segment {tag}", "family": "medical", "specialties": [specialty],
            "source_markets": ["GB", "IE"], "payer_types": ["self_pay"], "motivation": "want_to",
            "languages": ["en"], "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 5}}))
        await _coordinator_knows(admin, segment["id"])

    keys = {"admin": p.admin_key, "staff": staff, "revoked": revoked,
            "provider_a": hospital_a.key, "provider_b": hospital_b.key,
            "facilitator_a": agent_a.key, "facilitator_b": agent_b.key}
    return Seeded(p, keys, hospital_a, hospital_b, agent_a, agent_b, hotel, transfer, specialty, segment,
                  package, closed, withdrawn, staff_id, revoked_id)


async def _coordinator_knows(admin: httpx.AsyncClient, segment_id: str) -> None:
    """The coordinator's consumer has applied the seeded segment (its read model lags its feeds)."""
    for _ in range(300):
        if (await admin.get(f"/dmo/segments/{segment_id}/readiness")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the coordinator did not apply segment {segment_id} within 15 s")


@asynccontextmanager
async def seeded_platform(databases: Any, tmp: Path, **gateway_settings: Any) -> AsyncIterator[Seeded]:
    """The platform with a 1 MiB body limit and rates no proof reaches (unless overridden): the
    matrix calls every operation with no key and a revoked one, far past the per-address limit
    on failed keys (that limit has its own test in test_gateway_limits)."""
    settings = {"max_body_bytes": MAX_BODY, "rate_limit_per_second": 100_000.0, "rate_limit_burst": 100_000,
                "auth_failures_per_minute": 1_000_000.0, "auth_failures_burst": 100_000,
                **gateway_settings}
    async with AsyncExitStack() as stack:
        platform = await start_platform(stack, databases, tmp, **settings)
        yield await seed(platform)
