"""What the DMO coordinator's API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from pentad.money import Total

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
