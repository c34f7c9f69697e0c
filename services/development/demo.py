"""Demo destination, Development part: initiatives for the UK dental-implant segment, which
is short of its threshold (it asks for 3 accredited implant clinics and the demo region
has 2), and three assessments from the past months showing the way the destination came.

The assessments are *recorded* ones (figures measured on those dates): the pillars only
know today. Loading never overwrites or duplicates: a part is skipped as soon as the
platform holds any of its kind (the user's, or an earlier load's, however long ago), and
every create carries an ``Idempotency-Key`` so a load cut short is completed by the retry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.segmentation.demo import SEGMENTS

JOINTS, DENTAL, THALASSO, CARDIAC, IVF = (str(s["name"]) for s in SEGMENTS)


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _initiatives(today: date) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(slug, body without segment_id, the status steps it has gone through)."""
    def due(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return [
        ("third-clinic", {
            "title": "Bring a third implant clinic to ISO 22525 accreditation", "gap": "accredited_providers",
            "owner": "DMO quality and accreditation desk", "budget": _money("38000.00"),
            "description": "Co-fund the pre-audit and the certification audit of one more Rijeka or Opatija "
                           "implant clinic, so the segment has three accredited clinics.",
            "milestones": [
                {"title": "Shortlist candidate clinics", "due_on": due(-45), "done": True},
                {"title": "Pre-audit against ISO 22525", "due_on": due(-10), "done": False},
                {"title": "Certification audit", "due_on": due(50)},
                {"title": "Certificate issued and evidence filed", "due_on": due(90)}]},
         ["approved", "in_progress"]),
        ("weekend-lists", {
            "title": "Weekend implant lists at the partner clinics", "gap": "weekly_capacity",
            "owner": "Integration desk", "budget": _money("12000.00"),
            "description": "Saturday surgery lists so that every week offers the 60 slots the UK segment needs.",
            "milestones": [
                {"title": "Agree a weekend rota with both clinics", "due_on": due(-20), "done": True},
                {"title": "First weekend list posted as capacity", "due_on": due(14)}]},
         ["approved"]),
    ]


def _figures(acc: int, capacity: int, languages: list[str], transfers: int = 1) -> dict[str, Any]:
    return {"accredited_providers": acc, "weekly_capacity": capacity, "languages_covered": languages,
            "hotels": 1, "transfer_firms": transfers}


# Three past assessments (oldest first), each segment's figures then: slowly up.
HISTORY: dict[str, list[dict[str, Any]]] = {
    DENTAL: [_figures(1, 22, ["en"], 0), _figures(1, 31, ["en"]), _figures(2, 38, ["en"])],
    JOINTS: [_figures(1, 14, ["en"], 0), _figures(1, 20, ["en", "de"]), _figures(2, 24, ["de", "en"])],
    THALASSO: [_figures(1, 60, ["en"], 0), _figures(2, 85, ["en"]), _figures(2, 110, ["en", "sv"])],
    CARDIAC: [_figures(0, 6, [], 0), _figures(1, 9, ["it", "en"]), _figures(1, 12, ["it", "en"])],
    IVF: [_figures(0, 4, [], 0), _figures(1, 7, ["it", "en"]), _figures(1, 9, ["it", "en"])],
}


def _months_ago(today: date, months: int) -> date:
    """The first day of the month ``months`` before this one."""
    total = today.year * 12 + today.month - 1 - months
    return date(total // 12, total % 12 + 1, 1)


async def _any(client: httpx.AsyncClient, path: str) -> bool:
    r = await client.get(path, params={"limit": 1})
    r.raise_for_status()
    return bool(r.json()["items"])


async def _segment_ids(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.get("/segmentation/segments", params={"limit": 500})
    r.raise_for_status()
    return {s["name"]: s["id"] for s in r.json()["items"]}


async def _load_initiatives(client: httpx.AsyncClient, segment_id: str, today: date) -> None:
    for slug, body, steps in _initiatives(today):
        r = await client.post("/development/initiatives", json={**body, "segment_id": segment_id},
                              headers={"Idempotency-Key": f"demo:initiative:{slug}:{today}"})
        r.raise_for_status()
        for status in steps:
            r = await client.patch(f"/development/initiatives/{r.json()['id']}", json={"status": status},
                                   headers={"If-Match": r.headers["etag"]})
            r.raise_for_status()


async def _load_assessments(client: httpx.AsyncClient, ids: dict[str, str], today: date) -> None:
    for i, months in enumerate((3, 2, 1)):
        as_of = _months_ago(today, months).isoformat()
        segments = [{"segment_id": ids[name], "current": figures[i]} for name, figures in HISTORY.items()
                    if name in ids]
        r = await client.post("/development/assessments", json={
            "as_of": as_of, "note": "Recorded from the DMO's monthly review before Pentad", "segments": segments},
            headers={"Idempotency-Key": f"demo:assessment:{as_of}"})
        r.raise_for_status()


async def load(client: httpx.AsyncClient) -> None:
    ids = await _segment_ids(client)
    if DENTAL not in ids:
        return  # the demo segment was renamed or retired: the user's destination, not the demo's
    today = datetime.now(UTC).date()
    if not await _any(client, "/development/initiatives"):
        await _load_initiatives(client, ids[DENTAL], today)
    if not await _any(client, "/development/assessments"):
        await _load_assessments(client, ids, today)
