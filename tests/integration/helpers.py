"""Helpers of the Integration tests: stakeholders, capacity rows and reading them back."""


from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.pillars import unique
from tests.support import SignedAs, provider


def as_(stakeholder_id: str) -> SignedAs:
    return SignedAs(provider(stakeholder_id))


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def new_specialty(seg: httpx.AsyncClient) -> str:
    code = unique("sp")
    r = await seg.post("/specialties", json={"code": code, "name": code, "family": "medical"})
    assert r.status_code == 201, r.text
    return code


def stakeholder_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "hospital", "name": unique("Hospital"), "country": "HR", "city": "Zagreb",
                            "languages": ["hr", "en"], "specialties": ["orthopaedics", "cardiology"]}
    body.update(changes)
    return body


async def register(integ: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    r = await integ.post("/stakeholders", json=stakeholder_body(**changes))
    assert r.status_code == 201, r.text
    return r.json()


async def post_capacity(integ: httpx.AsyncClient, stakeholder_id: str, rows: list[Any],
                        **kw: Any) -> httpx.Response:
    return await integ.post(f"/stakeholders/{stakeholder_id}/capacity", json={"rows": rows}, **kw)


def row(specialty: str, when: str, total: Any = 10, available: Any = 5) -> dict[str, Any]:
    return {"specialty": specialty, "date": when, "slots_total": total, "slots_available": available}


async def capacity_of(integ: httpx.AsyncClient, stakeholder_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await integ.get(f"/stakeholders/{stakeholder_id}/capacity", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def listed(integ: httpx.AsyncClient, path: str, auth: SignedAs | None = None, **params: Any) -> list[str]:
    r = await integ.get(path, params={"limit": 500, **params}, **({"auth": auth} if auth else {}))
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def coverage(integ: httpx.AsyncClient, *specialties: str) -> dict[str, dict[str, Any]]:
    r = await integ.get("/coverage", params=[("specialty", s) for s in specialties])
    assert r.status_code == 200, r.text
    return {c["specialty"]: c for c in r.json()["items"]}
