"""What the Integration API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from pentad.codes import CountryCode, CurrencyCode, LanguageCode, SpecialtyCode
from pentad.money import Money, Total
from pentad.schemas import IsoDate, not_null, unique


class Kind(StrEnum):
    hospital = "hospital"
    clinic = "clinic"
    dental = "dental"
    rehab = "rehab"
    wellness = "wellness"
    hotel = "hotel"
    transfer = "transfer"
    facilitator = "facilitator"
    insurer = "insurer"


# Who treats patients (and so may post capacity and count towards an offer).
PROVIDER_KINDS = frozenset({Kind.hospital, Kind.clinic, Kind.dental, Kind.rehab, Kind.wellness})


class StakeholderStatus(StrEnum):
    active = "active"
    inactive = "inactive"


class StakeholderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: str = Field(min_length=1, max_length=200)
    country: CountryCode
    city: str = Field(min_length=1, max_length=120)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    specialties: list[SpecialtyCode] = Field(default_factory=list, max_length=100)
    status: StakeholderStatus = StakeholderStatus.active

    @field_validator("languages", "specialties")
    @classmethod
    def _dedupe(cls, values: list[str] | None) -> list[str] | None:
        return unique(values)


class StakeholderPatch(BaseModel):
    """Fields to change; lists are replaced whole. A provider changes its own ``name``, ``city``
    and ``languages``; its ``specialties`` and ``kind`` become a proposal for staff to decide."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    country: CountryCode | None = None
    city: str | None = Field(None, min_length=1, max_length=120)
    languages: list[LanguageCode] | None = Field(None, max_length=50)
    specialties: list[SpecialtyCode] | None = Field(None, max_length=100)
    status: StakeholderStatus | None = None

    @field_validator("languages", "specialties")
    @classmethod
    def _dedupe(cls, values: list[str] | None) -> list[str] | None:
        return unique(values)

    _not_null = not_null("kind", "name", "country", "city", "languages", "specialties", "status")


# What a provider's own PATCH applies at once, and what it only proposes (see proposals.py).
PROVIDER_EDITABLE = frozenset({"name", "city", "languages"})
PROVIDER_PROPOSABLE = frozenset({"specialties", "kind"})


class ProposalState(StrEnum):
    pending = "pending"
    none = "none"


class ProposalOutcome(StrEnum):
    approved = "approved"
    rejected = "rejected"


class ProposalDecision(BaseModel):
    """What staff last decided on this stakeholder's proposal, and why."""

    outcome: ProposalOutcome
    reason: str | None
    specialties: list[str] | None = Field(description="The specialties that were proposed (null: unchanged).")
    kind: Kind | None = Field(description="The kind that was proposed (null: unchanged).")
    decided_by: str = Field(description="The staff key that decided.")
    decided_at: datetime


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, min_length=1, max_length=500)


class RejectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Told to the provider.")


class StakeholderOut(StakeholderIn):
    """The approved record (what is listed, counted and bookable) and any pending proposal."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    created_at: datetime
    updated_at: datetime
    proposed_specialties: list[str] | None = Field(
        None, description="Specialties the provider asked for; they count for nothing until staff approve them.")
    proposed_kind: Kind | None = Field(None, description="The kind the provider asked for; likewise.")
    proposed_by: str | None = Field(None, description="The key that made the pending proposal.")
    proposed_at: datetime | None = Field(None, description="When; null when no proposal is pending.")
    proposal_decision: ProposalDecision | None = Field(None, description="Staff's last decision on a proposal.")


# -- capacity ---------------------------------------------------------------------------------

MAX_CAPACITY_ROWS = 10_000


# Documentation only: posted rows are checked one by one by hand (capacity.py), not by this model.
class CapacityRowIn(BaseModel):
    """One day of one specialty at the posting provider: a new (specialty, date) is inserted,
    a known one replaced."""

    specialty: SpecialtyCode
    date: IsoDate = Field(description="YYYY-MM-DD, from yesterday to two years ahead (UTC).")
    slots_total: int = Field(ge=0)
    slots_available: int = Field(ge=0, description="At most slots_total.")


def capacity_batch_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["rows"], "additionalProperties": False, "properties": {
        "rows": {"type": "array", "maxItems": MAX_CAPACITY_ROWS,
                 # A row with another field is refused (in `rejected`), as one missing a field.
                 "items": {**CapacityRowIn.model_json_schema(), "additionalProperties": False},
                 "description": "Rows are checked one by one: bad rows come back in `rejected`, "
                                "the others apply."}}}


class Rejected(BaseModel):
    index: int
    reason: str


class CapacityResult(BaseModel):
    inserted: int
    updated: int
    rejected: list[Rejected]


class CapacityRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    specialty: str
    date: date
    slots_total: int
    slots_available: int
    confirmed_at: datetime
    stale: bool = Field(description="Not re-confirmed within the staleness window: does not count.")


class CapacityListed(CapacityRow):
    """A row of the bulk listing (``GET /capacity``): whose it is, too."""

    stakeholder_id: str


# -- packages ---------------------------------------------------------------------------------

class ComponentKind(StrEnum):
    treatment = "treatment"
    stay = "stay"
    transfer = "transfer"
    aftercare = "aftercare"


# Which stakeholder kinds may deliver which component.
COMPONENT_KINDS: dict[ComponentKind, frozenset[Kind]] = {
    ComponentKind.treatment: PROVIDER_KINDS,
    ComponentKind.stay: frozenset({Kind.hotel, Kind.rehab, Kind.wellness}),
    ComponentKind.transfer: frozenset({Kind.transfer}),
    ComponentKind.aftercare: PROVIDER_KINDS | {Kind.hotel},
}


class PackageComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ComponentKind
    stakeholder_id: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=500)
    price: Money


class PackageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    specialty: SpecialtyCode
    currency: CurrencyCode | None = Field(None, description="The package's own currency; "
                                          "defaults to the first treatment's price currency.")
    components: list[PackageComponent] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _has_treatment(self) -> PackageIn:
        if not any(c.kind == ComponentKind.treatment for c in self.components):
            raise ValueError("a package needs at least one treatment component")
        return self


class PackageStatus(StrEnum):
    published = "published"
    withdrawn = "withdrawn"


class PackagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    status: PackageStatus | None = None

    _not_null = not_null("name", "status")


# Bounds on what a rate may be written as. With amounts within ``Amount`` (< 1e14, 4 decimals)
# and at most 20 components, the widest cross rate (1e12) gives totals of at most 30 digits,
# which ``pentad.money.CONTEXT`` holds: every total can be given. Rates between currencies
# in use sit far inside these bounds.
RATE_MIN, RATE_MAX = Decimal("0.000001"), Decimal("1000000")
_show_rate = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
RateIn = Annotated[Decimal, Field(ge=RATE_MIN, le=RATE_MAX, max_digits=17, decimal_places=10, allow_inf_nan=False),
                   _show_rate]
# What reads back: rates stored before these bounds existed must still read.
Rate = Annotated[Decimal, _show_rate]


class PackageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    specialty: str
    currency: str
    components: list[PackageComponent]
    status: PackageStatus
    status_reason: str | None
    total: Total = Field(description="Sum of the component prices in the package's own `currency`.")
    total_in: Total | None = Field(default=None, description=(
        "The same sum in the currency asked for with `?currency=`; null when none was asked."))
    fx_rates: dict[str, Rate] = Field(description="Rates used for `total` and `total_in`, as units per one "
                                                  "`fx_base`.")
    fx_base: str
    created_at: datetime
    updated_at: datetime


# -- FX ---------------------------------------------------------------------------------------

class FxTable(BaseModel):
    """An FX table as it reads back (and as Segmentation's attractiveness takes it)."""

    base: str
    rates: dict[str, Rate] = Field(description="Units of each currency that one `base` buys.")


class FxRates(FxTable):
    """An FX table as ``PUT /fx-rates`` takes it: codes and rates checked."""

    model_config = ConfigDict(extra="forbid")

    base: CurrencyCode
    rates: dict[CurrencyCode, RateIn] = Field(description="Units of each currency that one `base` buys: "
                                              "from 0.000001 to 1000000, at most 10 decimals.")

    @model_validator(mode="after")
    def _base_is_one(self) -> FxRates:
        if self.base in self.rates and self.rates[self.base] != 1:
            raise ValueError("the base currency's own rate must be 1 (or left out)")
        self.rates.pop(self.base, None)
        return self


class FxRatesOut(FxTable):
    updated_at: datetime


class Coverage(BaseModel):
    specialty: str
    providers: int = Field(description="Active providers offering the specialty.")
    providers_with_fresh_capacity: int = Field(description="Of those, with fresh available slots in the next 7 days.")
    weekly_fresh_slots: int = Field(description="Fresh available slots over the next 7 days.")


# -- weekly supply (services/integration/supply.py) -------------------------------------------

def iso_week(day: date) -> str:
    """The ISO 8601 week ``day`` falls in, as ``2026-W49`` (the label every pillar joins on)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class WeeklyCapacity(BaseModel):
    stakeholder_id: str
    specialty: str
    week: str = Field(description="ISO 8601 week, e.g. 2026-W49.", examples=["2026-W49"])
    starts_on: date = Field(description="The Monday of `week`.")
    fresh_slots: int = Field(description="Available slots on fresh rows dated in that week (within from..to).")
