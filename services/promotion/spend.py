"""A campaign's spend ledger: append-only entries whose total never silently exceeds the budget.

The campaign row is locked (PostgreSQL ``FOR UPDATE``; SQLite serialises writers with
``BEGIN IMMEDIATE``) before the total is summed, so two concurrent entries cannot both fit
under the budget on their own and together pass it. Going over takes staff saying so, with
a reason that stays on the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import Conflict, FieldError, Invalid
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.money import Money, Total, format_amount, total
from pentad.pagination import PageParams, paginate
from services.promotion import events
from services.promotion.campaigns import spent, stored
from services.promotion.models import Campaign, SpendEntry
from services.promotion.schemas import CampaignStatus, Channel, SpendIn, SpendOut


def _check_entry(campaign: Campaign, spend_in: SpendIn) -> None:
    budget = Money.model_validate(campaign.budget)
    errors = []
    if spend_in.amount.currency != budget.currency:
        errors.append(FieldError(field="amount.currency", value=spend_in.amount.currency,
                                 message=f"the ledger is kept in the budget's currency, {budget.currency}"))
    if spend_in.amount.amount <= 0:
        errors.append(FieldError(field="amount.amount", value=format_amount(spend_in.amount.amount),
                                 message="must be more than zero"))
    if spend_in.override_budget and not spend_in.override_reason:
        errors.append(FieldError(field="override_reason", message="required when overriding the budget"))
    if errors:
        raise Invalid("The spend entry cannot be recorded as given.", errors=errors)


async def record(session: AsyncSession, *, campaign: Campaign, spend_in: SpendIn, caller: Caller) -> SpendEntry:
    """``campaign`` was loaded ``for_update``: the total read here stays true until commit."""
    if campaign.status == CampaignStatus.ended:
        raise Conflict("The campaign has ended: it is read-only, its ledger too.")
    _check_entry(campaign, spend_in)
    budget = Money.model_validate(campaign.budget)
    before = (await spent(session, [campaign.id])).get(campaign.id, Decimal(0))
    after = total([before, spend_in.amount.amount], budget.currency)
    over = after > budget.amount
    if over and not spend_in.override_budget:
        raise Conflict(f"This entry takes the ledger to {format_amount(after)} {budget.currency}, over the budget "
                       f"of {format_amount(budget.amount)} {budget.currency} (spent so far: "
                       f"{format_amount(before)}). Raise the budget, or record it with override_budget and an "
                       f"override_reason.")
    entry = SpendEntry(id=new_id("spd"), campaign_id=campaign.id, amount=spend_in.amount.amount,
                       currency=budget.currency, spent_on=spend_in.spent_on, channel=spend_in.channel.value,
                       note=spend_in.note, over_budget=over, override_reason=spend_in.override_reason if over else None,
                       recorded_by=caller.key_id)
    session.add(entry)
    await session.flush()
    events.spend_recorded(session, entry, total=format_amount(after))
    return entry


async def list_(session: AsyncSession, *, campaign_id: str, paging: PageParams
                ) -> tuple[Sequence[SpendEntry], str | None]:
    stmt = sa.select(SpendEntry).where(SpendEntry.campaign_id == campaign_id)
    return await paginate(session, stmt, SpendEntry.id, paging)


def present(entry: SpendEntry) -> SpendOut:
    return SpendOut(id=entry.id, campaign_id=entry.campaign_id,
                    amount=Total(amount=stored(entry.amount), currency=entry.currency), spent_on=entry.spent_on,
                    channel=Channel(entry.channel), note=entry.note, over_budget=entry.over_budget,
                    override_reason=entry.override_reason, recorded_by=entry.recorded_by,
                    recorded_at=entry.recorded_at)
