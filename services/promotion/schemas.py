"""What the Promotion API takes and gives: campaigns, their spend ledger, attribution."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pentad.codes import CountryCode
from pentad.money import Money, Total
from pentad.schemas import not_null, unique

Id = Annotated[str, Field(min_length=1, max_length=40)]
# A segment id is looked up at /segments/{id}: "." or ".." would be resolved away as a path step
# (and answered by the list), so an id starts with a letter or digit.
SegmentId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class Channel(StrEnum):
    digital = "digital"
    trade_event = "trade_event"
    fam_trip = "fam_trip"
    hosted_buyers = "hosted_buyers"
    press = "press"
    partner_referral = "partner_referral"


class CampaignStatus(StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"
    ended = "ended"


# -- campaigns --------------------------------------------------------------------------------

# No min_length here: an empty list is refused by the service with the reason (never broad-brush).
SegmentIds = Annotated[list[SegmentId], Field(max_length=50, description="At least one: a campaign promotes segments "
                                                                  "the destination serves, never the destination "
                                                                  "at large.")]
SourceMarkets = Annotated[list[CountryCode], Field(max_length=50, description="At least one ISO 3166-1 alpha-2 "
                                                                              "market the campaign speaks to.")]
Channels = Annotated[list[Channel], Field(min_length=1, max_length=6)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Dated(BaseModel):
    @model_validator(mode="after")
    def _in_order(self) -> _Dated:
        starts, ends = getattr(self, "starts_on", None), getattr(self, "ends_on", None)
        if starts is not None and ends is not None and ends < starts:
            raise ValueError("ends_on is before starts_on")
        return self


class CampaignIn(_Dated):
    model_config = ConfigDict(extra="forbid")

    name: Name
    segment_ids: SegmentIds
    source_markets: SourceMarkets
    channels: Channels
    budget: Money
    starts_on: date | None = None
    ends_on: date | None = None

    @field_validator("segment_ids", "source_markets", "channels")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str] | None:
        return unique(values)


class CampaignPatch(_Dated):
    """Fields to change (lists replaced whole). ``status`` may go to ``paused`` (from active, with
    a ``status_reason``) or ``ended``; ``active`` is the launch action's
    (``POST /dmo/actions/launch-campaign``)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    segment_ids: SegmentIds | None = None
    source_markets: SourceMarkets | None = None
    channels: Channels | None = None
    budget: Money | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    status: CampaignStatus | None = None
    status_reason: str | None = Field(None, max_length=500, description="Why the status changed; required "
                                                                         "for `paused`.")

    _not_null = not_null("name", "segment_ids", "source_markets", "channels", "budget", "status")

    @field_validator("segment_ids", "source_markets", "channels")
    @classmethod
    def _dedupe(cls, values: list[str] | None) -> list[str] | None:
        return unique(values)


class CampaignOut(BaseModel):
    """A campaign. Provider and facilitator keys read only active campaigns, and only their
    public part: ``budget``, ``spent`` and ``status_reason`` are null for them."""

    id: str
    name: str
    segment_ids: list[str]
    source_markets: list[str]
    channels: list[Channel]
    budget: Money | None
    spent: Total | None = Field(description="The ledger's total, in the budget's currency.")
    starts_on: date | None
    ends_on: date | None
    status: CampaignStatus
    status_reason: str | None
    tracking_code: str = Field(description="What an enquiry carries to be attributed to this campaign.")
    version: int
    created_at: datetime
    updated_at: datetime


class ActivationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=80, description="The coordinator's launch action.")


# -- spend ------------------------------------------------------------------------------------

class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Money = Field(description="In the campaign budget's currency; more than zero.")
    spent_on: date
    channel: Channel
    note: str | None = Field(None, max_length=500)
    override_budget: bool = Field(False, description="Record it even though the ledger then exceeds the "
                                                     "budget; needs `override_reason`.")
    override_reason: str | None = Field(None, max_length=500)


class SpendOut(BaseModel):
    id: str
    campaign_id: str
    amount: Total
    spent_on: date
    channel: Channel
    note: str | None
    over_budget: bool = Field(description="The ledger exceeded the budget with this entry (staff overrode it).")
    override_reason: str | None
    recorded_by: str
    recorded_at: datetime


# -- attribution ------------------------------------------------------------------------------

class Conversion(BaseModel):
    """Each step's share of the step before (null when the step before is empty)."""

    routed: float | None
    quoted: float | None
    booked: float | None
    treated: float | None


class AttributionOut(BaseModel):
    enquiries: int
    routed: int = Field(description="Enquiries that reached `routed` or beyond (lost ones included).")
    quoted: int
    booked: int
    treated: int
    revenue: Total = Field(description="Accepted quotes of treated patients, in the DMO's base currency.")
    spend: Total = Field(description="Spend entries in scope, in the DMO's base currency.")
    conversion: Conversion
    cost_per_booked: Total | None
    cost_per_treated: Total | None
    fx_rates: dict[str, str] = Field(description="Units of each currency one base unit buys, as used.")
