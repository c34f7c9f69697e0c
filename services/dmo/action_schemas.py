"""What the action routes take and answer (``/actions/...``).

The inputs are checked here as strictly as the pillars check them, so bad input is a 422
before any action exists; what only a pillar can know (an unknown scheme, a campaign that
is not there) is the action's business failure, with the pillar's reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StrictBool, model_validator

from pentad.money import Money
from pentad.schemas import IsoDate
from services.administration.schemas import MembershipTier
from services.integration.schemas import StakeholderIn

Id = Annotated[str, Field(min_length=1, max_length=40)]


class ActionKind(StrEnum):
    launch_campaign = "launch-campaign"
    onboard_provider = "onboard-provider"


class ActionStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"  # refused or failed with nothing to undo
    compensated = "compensated"  # a step failed and the steps before it were undone


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"  # begun (maybe more than once): its pillar may or may not have acted yet
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"  # not needed on the path the action took
    compensated = "compensated"  # succeeded, then undone because a later step failed


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: Id
    open_initiatives: StrictBool = Field(False, description="When a segment is not ready, open a development "
                                                      "initiative for each of its gaps.")


class EvidenceIn(BaseModel):
    """Accreditation evidence as Administration takes it, for the stakeholder being registered."""

    model_config = ConfigDict(extra="forbid")

    scheme_id: Id
    certificate_no: str = Field(min_length=1, max_length=100)
    issued_on: IsoDate
    expires_on: IsoDate | None = Field(None, description="Defaults to `issued_on` plus the scheme's validity.")
    evidence_url: AnyHttpUrl | None = None

    @model_validator(mode="after")
    def _dates(self) -> EvidenceIn:
        if self.issued_on > datetime.now(UTC).date():
            raise ValueError("issued_on: must not be in the future")
        if self.expires_on is not None and self.expires_on <= self.issued_on:
            raise ValueError("expires_on: must be after issued_on")
        return self


class MembershipTermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: MembershipTier
    dues: Money


class OnboardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholder: StakeholderIn
    accreditation: EvidenceIn
    membership: MembershipTermsIn = Field(description="Opened for a year from the day the action is created.")


class StepOut(BaseModel):
    name: str
    status: StepStatus
    idempotency_key: str = Field(description="What the step sends the pillar as `Idempotency-Key`, the same "
                                             "on every retry, so a retried step never acts twice.")
    attempts: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None = Field(description="Why it failed, or the last transient failure it is "
                                                     "waiting out (`retrying: true`).")
    started_at: datetime | None
    finished_at: datetime | None
    compensated_at: datetime | None


class ActionOut(BaseModel):
    id: str
    kind: ActionKind
    status: ActionStatus
    steps: list[StepOut]
    reasons: list[str] = Field(description="Why it failed or was refused, with the numbers.")
    records: dict[str, Any] = Field(description="Ids of what the steps made or read (stakeholder_id...).")
    input: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    next_attempt_at: datetime | None = Field(description="While waiting out an unavailable pillar: the next try.")
