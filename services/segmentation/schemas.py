"""What the Segmentation API takes and gives."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from pentad.codes import CountryCode, LanguageCode, SpecialtyCode
from pentad.money import Money
from pentad.schemas import not_null, unique


class Family(StrEnum):
    """The ht8 family of health-tourism segments."""

    medical = "medical"
    dental = "dental"
    spa = "spa"
    wellness = "wellness"
    sports = "sports"
    culinary = "culinary"
    accessible = "accessible"
    assisted_residential = "assisted_residential"


class PayerType(StrEnum):
    self_pay = "self_pay"
    insurer = "insurer"
    government = "government"


class Motivation(StrEnum):
    have_to = "have_to"
    want_to = "want_to"


class SegmentStatus(StrEnum):
    active = "active"
    retired = "retired"


class SpecialtyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: SpecialtyCode
    name: str = Field(min_length=1, max_length=120)
    family: Family
    procedures: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(default_factory=list,
                                                                                 max_length=100)


class SpecialtyOut(SpecialtyIn):
    model_config = ConfigDict(from_attributes=True)


class PriceBand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: Money
    max: Money

    @model_validator(mode="after")
    def _ordered(self) -> PriceBand:
        if self.min.currency != self.max.currency:
            raise ValueError("min and max must be in the same currency")
        if self.min.amount > self.max.amount:
            raise ValueError("min must not exceed max")
        return self


GrowthRate = Annotated[Decimal, Field(ge=-1, le=10, max_digits=8, decimal_places=4, examples=["0.08"]),
                       PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class Demand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annual_patients: int = Field(ge=0, le=100_000_000, description="Patients a year the segment could bring.")
    avg_spend: Money = Field(description="Average spend per patient.")
    growth_rate: GrowthRate = Field(description="Yearly growth as a fraction: 0.08 is 8%.")


class Threshold(BaseModel):
    """The critical threshold the destination must cross to serve the segment for real."""

    model_config = ConfigDict(extra="forbid")

    min_accredited_providers: int = Field(ge=0, le=10_000)
    min_weekly_capacity: int = Field(ge=0, le=10_000_000, description="Fresh slots a week across providers.")


class _SegmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("specialties", "source_markets", "payer_types", "languages", check_fields=False)
    @classmethod
    def _dedupe(cls, values: list[str] | None) -> list[str] | None:
        return unique(values)


class SegmentIn(_SegmentFields):
    name: str = Field(min_length=1, max_length=200)
    family: Family
    specialties: list[SpecialtyCode] = Field(min_length=1, max_length=50)
    source_markets: list[CountryCode] = Field(min_length=1, max_length=250)
    payer_types: list[PayerType] = Field(min_length=1, max_length=3)
    motivation: Motivation
    price_band: PriceBand | None = None
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    demand: Demand | None = None
    threshold: Threshold


class SegmentPatch(_SegmentFields):
    """Fields to change; lists are replaced whole. ``status: retired`` retires the segment."""

    name: str | None = Field(None, min_length=1, max_length=200)
    family: Family | None = None
    specialties: list[SpecialtyCode] | None = Field(None, min_length=1, max_length=50)
    source_markets: list[CountryCode] | None = Field(None, min_length=1, max_length=250)
    payer_types: list[PayerType] | None = Field(None, min_length=1, max_length=3)
    motivation: Motivation | None = None
    price_band: PriceBand | None = None
    languages: list[LanguageCode] | None = Field(None, max_length=50)
    demand: Demand | None = None
    threshold: Threshold | None = None
    status: SegmentStatus | None = None

    _not_null = not_null("name", "family", "specialties", "source_markets", "payer_types", "motivation",
                         "languages", "threshold", "status")


class SegmentOut(SegmentIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    status: SegmentStatus
    created_at: datetime
    updated_at: datetime


class Component(BaseModel):
    """One ingredient of the attractiveness score, shown so a DMO can argue with it."""

    name: str
    raw: str | None = Field(description="The input as measured (units in `explanation`).")
    normalised: float | None = Field(description="0..1; null when the input is missing.")
    weight: float
    contribution: float = Field(description="normalised x weight (0 when missing).")
    explanation: str


class Attractiveness(BaseModel):
    segment_id: str
    score: float = Field(description="0..1, the sum of the contributions.")
    complete: bool = Field(description="False when some component had no data and counted 0.")
    components: list[Component]
    method: str
    computed_at: datetime
