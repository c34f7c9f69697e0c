"""Helpers of the Promotion tests: providers that can (or cannot) take an enquiry, set up in
the real Integration and Administration; enquiry and quote bodies; sweeps; the database read
directly (to prove what is, and is not, stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from pentad.db import Database, create_engine
from pentad.sweeps import run_once
from services.promotion.app import SWEEPS
from tests.pillars import Pair, unique
from tests.support import STAFF, SignedAs, facilitator, provider, settings_for

PROBLEM = "application/problem+json"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


@dataclass
class World:
    """Segmentation, Integration, Administration and Promotion running for real."""

    pair: Pair
    tmp: Path

    @property
    def url(self) -> str:
        return self.pair.databases["promotion"]

    def client(self, service: str = "promotion", caller: Any = STAFF) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.pair.urls[service], auth=SignedAs(caller), timeout=60)

    def as_facilitator(self, stakeholder_id: str) -> httpx.AsyncClient:
        return self.client("promotion", facilitator(stakeholder_id))

    def as_provider(self, stakeholder_id: str) -> httpx.AsyncClient:
        return self.client("promotion", provider(stakeholder_id))

    async def sweep(self, name: str, **settings: Any) -> int | None:
        """One pass of a sweep, as a process of its own would run it."""
        db = Database.connect(self.url)
        try:
            return await run_once(db, next(s for s in SWEEPS if s.name == name),
                                  settings=settings_for("promotion", self.url, self.tmp, **settings))
        finally:
            await db.dispose()

    async def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """Read (or change) the Promotion database directly."""
        engine = create_engine(self.url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(sa.text(statement), params)
                return [dict(r) for r in result.mappings().all()] if result.returns_rows else []
        finally:
            await engine.dispose()


async def _ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


async def new_specialty(world: World) -> str:
    """A specialty of the test's own, so no other test's providers can take its enquiries."""
    code = unique("sp")
    async with world.client("segmentation") as seg:
        await _ok(await seg.post("/specialties", json={"code": code, "name": code, "family": "medical"}))
    return code


async def stakeholder(world: World, kind: str = "hospital", *, specialties: list[str] | None = None,
                      languages: list[str] | None = None) -> str:
    async with world.client("integration") as integ:
        made = await _ok(await integ.post("/stakeholders", json={
            "kind": kind, "name": unique(kind), "country": "HR", "city": "Rijeka", "languages": languages or ["en"],
            "specialties": specialties or []}))
    return str(made["id"])


async def accredit(world: World, stakeholder_id: str, status: str = "valid") -> str:
    async with world.client("administration") as adm:
        made = await _ok(await adm.post("/accreditations", json={
            "stakeholder_id": stakeholder_id, "scheme_id": "sch_jci", "certificate_no": unique("JCI"),
            "issued_on": day(-100), "expires_on": day(900)}))
        if status != "pending":
            await _ok(await adm.patch(f"/accreditations/{made['id']}", json={"status": "valid"}), 200)
        if status in ("suspended", "revoked"):
            await _ok(await adm.patch(f"/accreditations/{made['id']}", json={"status": status, "reason": "audit"}),
                      200)
    return str(made["id"])


async def capacity(world: World, stakeholder_id: str, specialty: str, days: range | list[int], slots: int = 3
                   ) -> None:
    async with world.client("integration") as integ:
        r = await integ.post(f"/stakeholders/{stakeholder_id}/capacity", json={"rows": [
            {"specialty": specialty, "date": day(d), "slots_total": slots + 1, "slots_available": slots}
            for d in days]})
        assert r.status_code == 200 and not r.json()["rejected"], r.text


async def able_provider(world: World, specialty: str, *, languages: list[str] | None = None,
                        days: range | list[int] = range(10, 13), slots: int = 3) -> str:
    """A provider that can take an enquiry for ``specialty`` in days 10..12: accredited, fresh capacity."""
    sid = await stakeholder(world, specialties=[specialty], languages=languages)
    await accredit(world, sid)
    await capacity(world, sid, specialty, days, slots)
    return sid


CONTACT = {"name": "Ann Patient", "email": "ann.patient@example.org", "phone": "+44 20 7946 0000"}


def enquiry_body(specialty: str, **changes: Any) -> dict[str, Any]:
    return {"specialty": specialty, "source_market": "GB", "preferred_from": day(9), "preferred_to": day(14),
            "languages": ["en"], "contact": dict(CONTACT),
            "consent": {"given_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                        "scope": ["routing", "quotes"]}, **changes}


async def new_enquiry(client: httpx.AsyncClient, specialty: str, **changes: Any) -> dict[str, Any]:
    return await _ok(await client.post("/enquiries", json=enquiry_body(specialty, **changes)))


def quote_body(amount_minor: int = 520000, currency: str = "EUR", **changes: Any) -> dict[str, Any]:
    return {"items": [{"description": "Knee replacement", "amount_minor": amount_minor, "currency": currency}],
            "valid_until": day(30), **changes}


async def sent_quote(world: World, enquiry_id: str, stakeholder_id: str, **changes: Any) -> dict[str, Any]:
    async with world.as_provider(stakeholder_id) as prov:
        return await _ok(await prov.post(f"/enquiries/{enquiry_id}/quotes", json=quote_body(status="sent", **changes)))


def routed_to(enquiry: dict[str, Any]) -> set[str]:
    return {a["stakeholder_id"] for a in enquiry["assignments"] if a["status"] != "withdrawn"}
