"""Helpers of the Administration tests: stakeholders to accredit, bodies, sweeps, reading back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pentad.db import Database
from pentad.sweeps import run_once
from services.administration.app import SWEEPS
from tests.pillars import Pair, unique
from tests.support import SignedAs, facilitator, provider, settings_for

PROBLEM = "application/problem+json"


@dataclass
class Trio:
    pair: Pair
    tmp: Path

    @property
    def url(self) -> str:
        return self.pair.databases["administration"]

    async def sweep(self, name: str = "accreditation-dates", **settings: Any) -> int | None:
        """One pass of a sweep, as a process of its own would run it (its own engine)."""
        db = Database.connect(self.url)
        try:
            return await run_once(db, sweep_named(name), settings=settings_for("administration", self.url, self.tmp,
                                                                                  **settings))
        finally:
            await db.dispose()


def sweep_named(name: str) -> Any:
    return next(s for s in SWEEPS if s.name == name)


def as_provider(stakeholder_id: str) -> SignedAs:
    return SignedAs(provider(stakeholder_id))


def as_facilitator(stakeholder_id: str) -> SignedAs:
    return SignedAs(facilitator(stakeholder_id))


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


async def register(reg: httpx.AsyncClient, kind: str = "hospital", **changes: Any) -> str:
    body = {"kind": kind, "name": unique(kind), "country": "HR", "city": "Rijeka", **changes}
    r = await reg.post("/stakeholders", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def accreditation_body(whose: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"stakeholder_id": whose, "scheme_id": "sch_jci",
                            "certificate_no": unique("JCI"), "issued_on": day(-400), "expires_on": day(700),
                            "evidence_url": "https://example.org/certificates/1.pdf"}
    body.update(changes)
    return body


async def submit(adm: httpx.AsyncClient, stakeholder_id: str, auth: SignedAs | None = None,
                 **changes: Any) -> dict[str, Any]:
    r = await adm.post("/accreditations", json=accreditation_body(stakeholder_id, **changes),
                       **({"auth": auth} if auth else {}))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def verified(adm: httpx.AsyncClient, stakeholder_id: str, **changes: Any) -> dict[str, Any]:
    """An accreditation submitted and verified by staff."""
    created = await submit(adm, stakeholder_id, **changes)
    r = await adm.patch(f"/accreditations/{created['id']}", json={"status": "valid"})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def listed(adm: httpx.AsyncClient, path: str, auth: SignedAs | None = None,
                 params: list[tuple[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every item of a list, all pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = [*(params or []), ("limit", 500), *([("cursor", cursor)] if cursor else [])]
        r = await adm.get(path, params=query, **({"auth": auth} if auth else {}))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = dict(r.json())
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body
