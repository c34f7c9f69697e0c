"""Typed client of the Promotion service, for the coordinator.

What the coordinator does to Promotion: activates a campaign it has launched (the only way a
campaign becomes active), pauses or ends one when its segment stops being deliverable, asks
for open enquiries to be routed again when the offer changed, and reads campaigns, the
attribution figures and providers' response performance for the scorecard.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from pentad.client import ServiceClient, UpstreamError
from pentad.money import Money, Total


class CampaignRef(BaseModel):
    id: str
    name: str
    segment_ids: list[str]
    source_markets: list[str]
    channels: list[str]
    status: str  # draft, active, paused, ended
    status_reason: str | None = None
    tracking_code: str
    budget: Money
    spent: Total  # the ledger's total, in the budget's currency


class RoutingRetried(BaseModel):
    """What ``POST /routing/retry`` did: enquiries newly routed, and assignments withdrawn
    from providers that can no longer take them (each replaced where another provider can)."""

    routed: int
    withdrawn: int


class Attribution(BaseModel):
    enquiries: int
    routed: int
    quoted: int
    booked: int
    treated: int
    revenue: Total  # accepted quotes of treated patients, in the DMO's base currency
    spend: Total
    conversion: dict[str, float | None]  # step name → share of the step before
    cost_per_booked: Total | None
    cost_per_treated: Total | None


class ProviderPerformance(BaseModel):
    stakeholder_id: str
    assignments: int
    responded: int
    breached: int
    breach_rate: float | None
    median_response_seconds: float | None


class PromotionClient(ServiceClient):
    service = "promotion"

    async def campaign(self, campaign_id: str) -> CampaignRef | None:
        """The campaign, or None if Promotion has no such id."""
        try:
            return await self.get_model(f"/campaigns/{quote(campaign_id, safe='')}", CampaignRef)
        except UpstreamError as exc:
            if exc.upstream_status == 404:
                return None
            raise

    async def campaigns(self, *, status: str | None = None, segment_id: str | None = None) -> list[CampaignRef]:
        """Every campaign (every page), optionally in one status or naming one segment."""
        params = [(name, value) for name, value in (("status", status), ("segment_id", segment_id)) if value]
        return await self.get_all("/campaigns", CampaignRef, params)

    async def activate(self, campaign_id: str, *, action_id: str, idempotency_key: str | None = None) -> CampaignRef:
        """Make a launched campaign active (coordinator only). Activating again for the same
        action is a no-op answering the campaign, so a retried step never changes anything twice."""
        response = await self.request("POST", f"/campaigns/{quote(campaign_id, safe='')}/activation",
                                      json={"action_id": action_id},
                                      headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)
        return CampaignRef.model_validate_json(response.content)

    async def pause(self, campaign_id: str, *, reason: str) -> CampaignRef:
        """Pause an active campaign with the reason; pausing a paused one changes nothing."""
        return await self._set_status(campaign_id, "paused", reason)

    async def end(self, campaign_id: str, *, reason: str) -> CampaignRef:
        return await self._set_status(campaign_id, "ended", reason)

    async def _set_status(self, campaign_id: str, status: str, reason: str) -> CampaignRef:
        response = await self.request("PATCH", f"/campaigns/{quote(campaign_id, safe='')}",
                                      json={"status": status, "status_reason": reason})
        return CampaignRef.model_validate_json(response.content)

    async def retry_routing(self, *, stakeholder_id: str | None = None) -> RoutingRetried:
        """Route unrouted enquiries again and, when ``stakeholder_id`` is given, withdraw that
        provider's open assignments it can no longer take (replacing it where possible)."""
        body = {"stakeholder_id": stakeholder_id} if stakeholder_id else {}
        response = await self.request("POST", "/routing/retry", json=body)
        return RoutingRetried.model_validate_json(response.content)

    async def attribution(self, *, campaign_id: str | None = None, segment_id: str | None = None,
                          source_market: str | None = None, from_: date | None = None,
                          to: date | None = None) -> Attribution:
        params: list[tuple[str, Any]] = [
            (name, value) for name, value in (("campaign_id", campaign_id), ("segment_id", segment_id),
                                              ("source_market", source_market),
                                              ("from", from_ and from_.isoformat()), ("to", to and to.isoformat()))
            if value]
        return await self.get_model("/attribution", Attribution, params=params)

    async def provider_performance(self) -> list[ProviderPerformance]:
        """Response performance of every provider that was ever routed an enquiry."""
        return await self.get_all("/performance/providers", ProviderPerformance)
