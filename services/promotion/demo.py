"""Demo destination, Promotion part: two campaigns with their spend.

- "Knees and hips in Kvarner" for the DACH joint-replacement segment, which the demo region
  can deliver (two accredited providers, capacity well above its weekly threshold): launched
  by the coordinator's demo, so active.
- "Smile in Rijeka" for the UK and Irish dental-implant segment, short of its threshold (it
  asks for three accredited implant clinics; the region has two): a draft, with the creative
  work already paid for, waiting for the segment to be ready.

A campaign becomes active only through the coordinator's launch action: the coordinator's demo
(``services/dmo/demo.py``) launches the first and has the second refused, with its reasons.

Loading never overwrites or duplicates: the part is skipped as soon as the platform holds any
campaign (the user's, or an earlier load's, however long ago); every create carries an
``Idempotency-Key``, so a load cut short is finished by the retry without duplicates. The
enquiries (``demo_enquiries.py``) are loaded by the coordinator's demo, after the launch and the
coordinator's reaction to a lapsed licence, so that they are routed against the destination as
the demo leaves it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.segmentation.demo import SEGMENTS

JOINTS, DENTAL = (str(s["name"]) for s in SEGMENTS[:2])
KNEES = "Knees and hips in Kvarner: DACH spring programme"
SMILE = "Smile in Rijeka: UK and Irish implant patients"


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _campaigns(today: date) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(slug, segment name, body without segment_ids, spend entries)."""
    def on(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return [
        ("knees-and-hips", JOINTS, {
            "name": KNEES, "source_markets": ["DE", "AT", "CH"],
            "channels": ["digital", "trade_event", "fam_trip", "partner_referral"],
            "budget": _money("60000.00", "EUR"), "starts_on": on(-30), "ends_on": on(150)}, [
            {"amount": _money("12500.00", "EUR"), "spent_on": on(-28), "channel": "trade_event",
             "note": "Stand at a Düsseldorf medical trade fair"},
            {"amount": _money("8400.00", "EUR"), "spent_on": on(-14), "channel": "digital",
             "note": "German-language search and social, first month"},
            {"amount": _money("5150.00", "EUR"), "spent_on": on(-7), "channel": "fam_trip",
             "note": "Familiarisation trip for six Austrian orthopaedic referrers"},
        ]),
        ("smile-in-rijeka", DENTAL, {
            "name": SMILE, "source_markets": ["GB", "IE"],
            "channels": ["digital", "press", "hosted_buyers"],
            "budget": _money("25000.00", "GBP"), "starts_on": on(60), "ends_on": on(240)}, [
            {"amount": _money("1800.00", "GBP"), "spent_on": on(-10), "channel": "digital",
             "note": "Creative and landing page, made ahead of launch"},
        ]),
    ]


async def _segment_ids(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.get("/segmentation/segments", params={"limit": 500})
    r.raise_for_status()
    return {s["name"]: s["id"] for s in r.json()["items"]}


async def _load_campaign(client: httpx.AsyncClient, slug: str, body: dict[str, Any], entries: list[dict[str, Any]],
                         today: date) -> str:
    r = await client.post("/promotion/campaigns", json=body,
                          headers={"Idempotency-Key": f"demo:campaign:{slug}:{today}"})
    r.raise_for_status()
    campaign_id = str(r.json()["id"])
    for i, entry in enumerate(entries):
        s = await client.post(f"/promotion/campaigns/{campaign_id}/spend", json=entry,
                              headers={"Idempotency-Key": f"demo:spend:{slug}:{i}:{today}"})
        s.raise_for_status()
    return campaign_id


async def _any_campaign(client: httpx.AsyncClient) -> bool:
    r = await client.get("/promotion/campaigns", params={"limit": 1})
    r.raise_for_status()
    return bool(r.json()["items"])


async def load(client: httpx.AsyncClient) -> None:
    if await _any_campaign(client):
        return
    ids = await _segment_ids(client)
    today = datetime.now(UTC).date()
    for slug, segment, body, entries in _campaigns(today):
        if segment not in ids:
            continue  # the demo segment was renamed or retired: the user's destination, not the demo's
        await _load_campaign(client, slug, {**body, "segment_ids": [ids[segment]]}, entries, today)
