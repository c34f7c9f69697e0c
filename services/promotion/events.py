"""Events the Promotion service publishes (through the outbox): ids, statuses and figures only.

Campaign events carry no personal data; a status reason is the DMO's own words about a
campaign (e.g. "segment below threshold"), never about a patient.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pentad import outbox
from pentad.money import format_amount
from services.promotion.models import Campaign, SpendEntry

# Every type this service publishes (webhooks take subscriptions to these only); enquiries'
# are in enquiry_events.
TYPES = frozenset({"campaign.created", "campaign.status_changed", "campaign.spend_recorded"})


def _campaign(c: Campaign) -> dict[str, Any]:
    return {"campaign_id": c.id, "segment_ids": c.segment_ids, "source_markets": c.source_markets,
            "channels": c.channels, "status": c.status, "tracking_code": c.tracking_code, "version": c.version}


def campaign_created(session: AsyncSession, campaign: Campaign) -> None:
    outbox.record(session, type="campaign.created", subject=campaign.id, data=_campaign(campaign))


def campaign_status_changed(session: AsyncSession, campaign: Campaign, *, from_: str,
                            action_id: str | None = None) -> None:
    outbox.record(session, type="campaign.status_changed", subject=campaign.id, data={
        **_campaign(campaign), "from": from_, "to": campaign.status, "reason": campaign.status_reason,
        "action_id": action_id})


def spend_recorded(session: AsyncSession, entry: SpendEntry, *, total: str) -> None:
    """So a scorecard can follow spend against the budget without polling every ledger."""
    outbox.record(session, type="campaign.spend_recorded", subject=entry.campaign_id, data={
        "campaign_id": entry.campaign_id, "entry_id": entry.id, "amount": format_amount(entry.amount),
        "currency": entry.currency, "channel": entry.channel, "spent_on": entry.spent_on.isoformat(),
        "total": total, "over_budget": entry.over_budget})
