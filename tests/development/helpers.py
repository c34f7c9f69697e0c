"""Helpers of the Development tests: segments, stakeholders and capacity in the real pillars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.pillars import money, unique


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def mondays() -> list[date]:
    """The weeks a gap looks at, as the rule says: 8 whole ISO weeks from the first Monday on or after today."""
    first = today() + timedelta(days=(7 - today().weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range(8)]


def week(monday: date) -> str:
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


async def new_specialty(seg: httpx.AsyncClient) -> str:
    code = unique("sp")
    r = await seg.post("/specialties", json={"code": code, "name": code, "family": "medical"})
    assert r.status_code == 201, r.text
    return code


async def new_segment(seg: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": unique("segment"), "family": "medical", "specialties": ["orthopaedics"], "source_markets": ["DE"],
        "payer_types": ["self_pay"], "motivation": "have_to", "languages": ["de", "en"],
        "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 20}, **changes}
    r = await seg.post("/segments", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def register(integ: httpx.AsyncClient, kind: str, specialties: list[str] | None = None,
                   languages: list[str] | None = None, **changes: Any) -> str:
    body = {"kind": kind, "name": unique(kind), "country": "HR", "city": "Rijeka", "languages": languages or ["hr"],
            "specialties": specialties or [], **changes}
    r = await integ.post("/stakeholders", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def post_capacity(integ: httpx.AsyncClient, stakeholder_id: str, specialty: str,
                        slots: dict[date, int]) -> None:
    rows = [{"specialty": specialty, "date": d.isoformat(), "slots_total": n + 2, "slots_available": n}
            for d, n in slots.items()]
    r = await integ.post(f"/stakeholders/{stakeholder_id}/capacity", json={"rows": rows})
    assert r.status_code == 200 and not r.json()["rejected"], r.text


def initiative_body(segment_id: str, **changes: Any) -> dict[str, Any]:
    return {"title": unique("Accredit a third implant clinic"), "segment_id": segment_id,
            "gap": "accredited_providers", "owner": "DMO quality team", "budget": money("45000.00"),
            "milestones": [{"title": "Shortlist candidates", "due_on": day(-3), "done": True},
                           {"title": "Gap audit against ISO 22525", "due_on": day(-1)},
                           {"title": "Certificate issued", "due_on": day(60)}], **changes}
