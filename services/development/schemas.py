"""What the Development API takes and gives: gaps, assessments, initiatives."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pentad.codes import LanguageCode
from pentad.money import Money
from pentad.schemas import IsoDate, not_null, unique

Week = Annotated[str, Field(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$", examples=["2026-W49"])]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class GapKind(StrEnum):
    """The four things a segment's threshold asks for; each shortfall is named after one."""

    accredited_providers = "accredited_providers"
    weekly_capacity = "weekly_capacity"
    languages = "languages"
    supporting_stakeholders = "supporting_stakeholders"


# -- gaps -------------------------------------------------------------------------------------

class GapThreshold(BaseModel):
    """What crossing the segment's critical threshold takes."""

    min_accredited_providers: int = Field(description="From the segment (Segmentation).")
    min_weekly_capacity: int = Field(description="From the segment: fresh slots in each of the next 8 weeks.")
    languages: list[str] = Field(description="The segment's languages: each spoken by an accredited provider.")
    hotels: int = Field(description="Active hotels a package needs (a Development rule).")
    transfer_firms: int = Field(description="Active transfer firms a package needs (a Development rule).")


class Current(BaseModel):
    """What the destination has now (or had, for a recorded assessment)."""

    accredited_providers: Count
    weekly_capacity: Count = Field(description="Fresh available slots in the weakest of the 8 weeks.")
    weakest_week: Week | None = Field(None, description="That week (the earliest, on a tie).")
    languages_covered: list[str]
    languages_missing: list[str]
    hotels: Count
    transfer_firms: Count


class Shortfalls(BaseModel):
    """How much is missing, per requirement; 0 when it is met."""

    accredited_providers: int
    weekly_capacity: int
    languages: int = Field(description="How many of the segment's languages no accredited provider speaks.")
    supporting_stakeholders: int = Field(description="Hotels plus transfer firms missing.")


class ProviderInput(BaseModel):
    stakeholder_id: str
    name: str
    kind: str
    specialties: list[str] = Field(description="Which of the segment's specialties it offers.")
    languages: list[str]
    accredited: bool = Field(description="Holds a valid or expiring accreditation now.")
    accreditation_ids: list[str]


class WeekInput(BaseModel):
    week: Week
    starts_on: date
    fresh_slots: int = Field(description="Across accredited providers, for the segment's specialties.")
    by_provider: dict[str, int] = Field(description="Each accredited provider's part of it, by stakeholder id.")


class SupportingInput(BaseModel):
    stakeholder_id: str
    name: str
    kind: str


class GapInputs(BaseModel):
    """What the figures came from, so a DMO can check them."""

    providers: list[ProviderInput] = Field(description="Active providers offering one of the specialties.")
    weeks: list[WeekInput]
    supporting: list[SupportingInput] = Field(description="Active hotels and transfer firms.")


class Gap(BaseModel):
    segment_id: str
    segment_name: str
    threshold: GapThreshold
    current: Current
    shortfalls: Shortfalls
    met: bool = Field(description="Every shortfall is 0: the segment has crossed its threshold.")
    inputs: GapInputs | None = Field(None, description="Null for a recorded (historical) assessment.")


class GapPage(BaseModel):
    items: list[Gap]
    next_cursor: str | None = None
    method: str
    computed_at: datetime


# -- assessments ------------------------------------------------------------------------------

class AssessmentSource(StrEnum):
    computed = "computed"  # by this service, from the pillars, when recorded
    recorded = "recorded"  # figures a DMO measured earlier, entered by staff


class CurrentIn(BaseModel):
    """The figures of a recorded assessment; the shortfalls are computed from them."""

    model_config = ConfigDict(extra="forbid")

    accredited_providers: Count
    weekly_capacity: Count
    weakest_week: Week | None = None
    languages_covered: list[LanguageCode] = Field(default_factory=list, max_length=50)
    hotels: Count
    transfer_firms: Count

    @field_validator("languages_covered")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str] | None:
        return unique(values)


class RecordedSegment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment_id: str = Field(min_length=1, max_length=40)
    current: CurrentIn


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate | None = Field(None, description="Today when left out; never in the future. A past date needs "
                                                 "`segments` (the figures of that date).")
    note: str | None = Field(None, max_length=500)
    segments: list[RecordedSegment] | None = Field(
        None, min_length=1, max_length=500,
        description="Left out: every active segment's gaps are computed now from the pillars. Given: a recorded "
                    "assessment of these segments, with the figures measured on `as_of`.")


class AssessmentOut(BaseModel):
    id: str
    as_of: date
    source: AssessmentSource
    note: str | None
    recorded_at: datetime
    gaps: list[Gap]


class AssessmentPoint(BaseModel):
    """One segment in one assessment: a point of its history."""

    model_config = ConfigDict(from_attributes=True)

    assessment_id: str
    as_of: date
    source: AssessmentSource
    segment_id: str
    segment_name: str
    met: bool
    threshold: GapThreshold
    current: Current
    shortfalls: Shortfalls


# -- initiatives ------------------------------------------------------------------------------

class InitiativeStatus(StrEnum):
    proposed = "proposed"
    approved = "approved"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    due_on: IsoDate
    done: bool = False


class MilestoneOut(MilestoneIn):
    overdue: bool = Field(description="Not done, its due date passed, and the initiative still open.")


Title = Annotated[str, Field(min_length=1, max_length=200)]
Owner = Annotated[str, Field(min_length=1, max_length=200, description="Who answers for it: a team or a role.")]
Milestones = Annotated[list[MilestoneIn], Field(max_length=100)]


class InitiativeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: str | None = Field(None, max_length=4000)
    segment_id: str = Field(min_length=1, max_length=40)
    gap: GapKind = Field(description="The shortfall it closes.")
    owner: Owner
    budget: Money
    milestones: Milestones = Field(default_factory=list)


class InitiativePatch(BaseModel):
    """Fields to change; ``milestones`` is replaced whole. A new ``status`` must be a legal step."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: str | None = Field(None, max_length=4000)
    gap: GapKind | None = None
    owner: Owner | None = None
    budget: Money | None = None
    milestones: Milestones | None = None
    status: InitiativeStatus | None = None
    status_reason: str | None = Field(None, max_length=500, description="Why the status changed.")

    _not_null = not_null("title", "gap", "owner", "budget", "milestones", "status")


class InitiativeOut(BaseModel):
    id: str
    title: str
    description: str | None
    segment_id: str
    gap: GapKind
    owner: str
    budget: Money
    milestones: list[MilestoneOut]
    status: InitiativeStatus
    status_reason: str | None
    progress: float = Field(ge=0, le=1, description="Done milestones / milestones (no milestones: 1 when done).")
    overdue_milestones: int
    created_at: datetime
    updated_at: datetime
