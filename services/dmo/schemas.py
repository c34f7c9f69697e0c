"""What the coordinator's offer, readiness and reactions answer."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pentad.money import Total
from services.development.schemas import Current, GapThreshold


class Position(BaseModel):
    as_of: datetime | None = Field(
        description="The read model's position in time: every pillar event committed before it is applied "
                    "(the oldest of the feeds' last complete reads). Null until each feed was read once.")
    lag_seconds: float | None = Field(description="How stale the read model may be: now minus `as_of`.")
    positions: dict[str, int] = Field(description="The last `seq` applied from each pillar's feed.")


class OfferAccreditation(BaseModel):
    id: str
    scheme_id: str
    scheme_code: str
    status: str = Field(description="valid or expiring (judged now from `expires_on`).")
    expires_on: date


class OfferWeek(BaseModel):
    week: str = Field(examples=["2026-W49"])
    starts_on: date
    fresh_slots: int = Field(description="Available slots on rows re-confirmed within the staleness window, "
                                         "dated in this week and within the window, the segment's specialties.")


class OfferPackage(BaseModel):
    id: str
    name: str
    specialty: str
    total: dict[str, str] = Field(description="Money: the sum of its components in the package's own currency.",
                                  examples=[{"amount": "5780.00", "currency": "EUR"}])
    total_in: dict[str, str] | None = Field(
        None, description="The same sum in the offer's `currency` when one is asked; null when none is.",
        examples=[{"amount": "4913.00", "currency": "GBP"}])
    fx_rates: dict[str, str] = Field(description="The rates `total` and `total_in` took, as units per one `fx_base`.",
                                     examples=[{"GBP": "0.8500"}])
    fx_base: str = Field(examples=["EUR"])


class OfferProvider(BaseModel):
    stakeholder_id: str
    name: str
    kind: str
    specialties: list[str] = Field(description="The segment's specialties it offers (approved ones).")
    languages: list[str]
    accreditations: list[OfferAccreditation]
    capacity: list[OfferWeek]
    packages: list[OfferPackage]


class NearMiss(BaseModel):
    stakeholder_id: str
    name: str
    reasons: list[str] = Field(description="Every rule it fails, with its numbers.")


class Offer(Position):
    segment_id: str
    from_: date = Field(alias="from")
    to: date
    currency: str | None
    providers: list[OfferProvider]
    next_cursor: str | None = Field(None, description="The `cursor` of the next page of providers; null on the last.")
    retired: bool = Field(False, description="The segment is retired: it offers no provider (`providers` and "
                                             "`near_misses` empty), as its readiness says (`segment_active`).")
    near_misses: list[NearMiss] | None = Field(
        None, description="With `explain=true`: each provider offering the segment's specialties that is left "
                          "out, and why.")

    model_config = ConfigDict(populate_by_name=True)


class Reason(BaseModel):
    model_config = ConfigDict(extra="allow")

    requirement: str = Field(description="accredited_providers, weekly_capacity, languages, "
                                         "supporting_stakeholders or segment_active.")
    needed: Any
    have: Any
    shortfall: int
    detail: str


class ReadinessOut(Position):
    segment_id: str
    ready: bool
    reasons: list[Reason] = Field(description="Each failing requirement with its numbers; empty when ready.")
    threshold: GapThreshold
    current: Current
    method: str = Field(description="The rules (Development's gap analysis), applied to the read model.")


class ReactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(description="provider.left_offer, provider.joined_offer, segment.not_ready, "
                                  "segment.ready_again, segment.retired.")
    segment_id: str | None
    stakeholder_id: str | None
    reason: str
    source: str = Field(description="The feed of the event that caused it, or `clock` for a re-check on time.")
    seq: int | None = Field(description="That event's `seq` in its feed.")
    event_id: str | None
    event_type: str | None
    status: str = Field(description="pending (recorded, not yet carried out), done, failed.")
    outcome: dict[str, Any] = Field(description="What was done: campaigns paused or ended, initiative opened...")
    created_at: datetime
    done_at: datetime | None


class ReactionPage(BaseModel):
    items: list[ReactionOut]
    next_cursor: str | None = None


class RebuildOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reason: str = Field(description="`requested` (POST /rebuilds) or `empty` (the coordinator found no read model).")
    requested_by: str | None = Field(description="The key that asked for it.")
    counts: dict[str, int] = Field(description="Records put: segments, stakeholders, packages, accreditations, "
                                               "capacity_rows; and capacity_calls, the calls that read the capacity "
                                               "(in bulk pages, not one a provider).")
    positions: dict[str, int] = Field(description="The feed positions the consumer resumed from.")
    started_at: datetime
    finished_at: datetime


# -- scorecard --------------------------------------------------------------------------------


class Figure(BaseModel):
    """One measured figure, with how it is computed and what it was computed from."""

    value: int | float | None = Field(description="Null when the formula has nothing to divide by (said in `formula`).")
    unit: str = Field(examples=["count", "share", "seconds", "per_100_treated", "per_1000_spend", "score"])
    money: Total | None = Field(default=None, description="The exact amount, for a money figure (in the FX base).")
    formula: str
    inputs: dict[str, Any] = Field(description="The inputs the formula was applied to, as the pillars said them.")


class Direction(StrEnum):
    up = "up"
    down = "down"
    flat = "flat"


class TrendPoint(BaseModel):
    assessed_on: date = Field(description="A Development assessment's date.")
    taken_on: date = Field(description="The scorecard snapshot standing for it (see `Trend`).")
    value: int | float | None


class Trend(BaseModel):
    """The figure now against the figure at the last assessment before today.

    A snapshot of the attributes is stored with the first scorecard computed each UTC day;
    the figure at an assessment dated D is the latest snapshot taken on or before D (or,
    when there is none, the first one taken after D and before today)."""

    since: date = Field(description="The last assessment before today.")
    baseline: int | float | None = Field(description="The figure at that assessment; null when no snapshot "
                                                     "stands for it.")
    change: float | None = Field(description="Now minus baseline.")
    direction: Direction | None
    improved: bool | None = Field(description="Whether the change is for the better (lower is better for some).")
    points: list[TrendPoint] = Field(description="The figure at each of the last assessments, oldest first.")


class Attribute(Figure):
    parts: dict[str, Figure] = Field(default_factory=dict, description="Further figures of the same attribute.")
    trend: Trend | None = Field(description="Null until Development has recorded an assessment before today.")


class SegmentationCard(BaseModel):
    segments: Figure
    demand: Figure


class IntegrationCard(BaseModel):
    active_providers: Figure
    fresh_capacity_share: Figure
    published_packages: Figure


class AdministrationCard(BaseModel):
    validly_accredited_share: Figure
    expiring_within_90_days: Figure
    complaints_past_sla: Figure


class DevelopmentCard(BaseModel):
    open_gaps: Figure
    initiative_progress: Figure
    last_assessment: Figure


class PromotionCard(BaseModel):
    active_campaigns: Figure
    spend: Figure
    conversion: Figure


class Attributes(BaseModel):
    """What a destination must be before providers can expect international patients."""

    integrated: Attribute
    efficient: Attribute
    well_known: Attribute
    attractive: Attribute
    credible: Attribute
    trusted: Attribute


class Scorecard(BaseModel):
    segmentation: SegmentationCard
    integration: IntegrationCard
    administration: AdministrationCard
    development: DevelopmentCard
    promotion: PromotionCard
    broad_brush_index: float = Field(ge=0, le=1, description="Share of promotion spend going to segments that "
                                                             "are not ready (see `broad_brush`).")
    broad_brush: Figure = Field(description="How `broad_brush_index` was computed, with its inputs.")
    attributes: Attributes
    currency: str = Field(description="The FX base every money figure is expressed in (Integration's table).")
    readiness_source: str = Field(description="Where a segment's readiness was read from.")
    pillar_calls: int = Field(description="Calls this scorecard made to the pillars (all concurrent, two waves).")
    computed_at: datetime
