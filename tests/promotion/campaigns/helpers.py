"""Helpers of the Promotion tests: segments in the real Segmentation, campaigns, the coordinator."""

from __future__ import annotations

from typing import Any

import httpx

from pentad.identity import Caller, Role
from tests.pillars import money, unique

# The coordinator calls Promotion as itself, the way ``PromotionClient.for_settings`` does in ``services/dmo``.
COORDINATOR = Caller("service:dmo", Role.staff)


async def new_segment(seg: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": unique("segment"), "family": "medical", "specialties": ["orthopaedics"], "source_markets": ["DE"],
        "payer_types": ["self_pay"], "motivation": "have_to", "languages": ["de", "en"],
        "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 20}, **changes}
    r = await seg.post("/segments", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def campaign_body(segment_ids: list[str], **changes: Any) -> dict[str, Any]:
    return {"name": unique("Knees in Kvarner"), "segment_ids": segment_ids, "source_markets": ["DE", "AT"],
            "channels": ["digital", "trade_event"], "budget": money("10000.00"), "starts_on": "2030-03-01",
            "ends_on": "2030-06-30", **changes}


def broad(segment_id: str, **changes: Any) -> dict[str, Any]:
    """A body with ``changes`` that may replace the segments themselves."""
    return {**campaign_body([segment_id]), **changes}


async def new_campaign(pro: httpx.AsyncClient, segment_ids: list[str], **changes: Any) -> dict[str, Any]:
    r = await pro.post("/campaigns", json=campaign_body(segment_ids, **changes))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def activate(coordinator: httpx.AsyncClient, campaign_id: str, action_id: str | None = None) -> httpx.Response:
    body = {"action_id": action_id or unique("act")}
    return await coordinator.post(f"/campaigns/{campaign_id}/activation", json=body)


async def spend(pro: httpx.AsyncClient, campaign_id: str, amount: str, currency: str = "EUR",
                **changes: Any) -> httpx.Response:
    return await pro.post(f"/campaigns/{campaign_id}/spend", json={
        "amount": money(amount, currency), "spent_on": "2030-03-05", "channel": "digital", **changes})
