"""What the Administration API takes and gives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pentad.money import Money
from pentad.schemas import IsoDate, not_null

Id = Annotated[str, Field(min_length=1, max_length=40)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


def _check_not_in_future(cls: type, value: date | None) -> date | None:
    if value is not None and value > datetime.now(UTC).date():
        raise ValueError("cannot be in the future")
    return value


_not_in_future: Any = classmethod(_check_not_in_future)


def _after(earlier: str):  # type: ignore[no-untyped-def]
    """A validator: this date must come after the field ``earlier`` (when both are given)."""

    def check(cls: type, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(earlier)
        if value is not None and start is not None and value <= start:
            raise ValueError(f"must be after {earlier} ({start.isoformat()})")
        return value

    return classmethod(check)


def _url(value: AnyHttpUrl | None) -> str | None:
    return None if value is None else str(value)


# -- schemes -------------------------------------------------------------------------------------

class SchemeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["jci"])
    name: str = Field(min_length=1, max_length=200)
    issuing_body: str = Field(min_length=1, max_length=200)
    validity_years: int = Field(ge=1, le=10, description="How long a certificate runs; "
                                "an accreditation submitted without `expires_on` gets `issued_on` plus this.")
    covers: str = Field(min_length=1, max_length=1000, description="What the scheme accredits.")


class SchemeOut(SchemeIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    created_at: datetime


# -- accreditations ------------------------------------------------------------------------------

class AccreditationState(StrEnum):
    """What is stored: a person's decision."""

    pending = "pending"
    valid = "valid"
    suspended = "suspended"
    revoked = "revoked"


class AccreditationStatus(StrEnum):
    """What is read: the state, with ``valid`` split by date into valid, expiring, expired."""

    pending = "pending"
    valid = "valid"
    expiring = "expiring"
    expired = "expired"
    suspended = "suspended"
    revoked = "revoked"


class Decision(StrEnum):
    """The statuses a PATCH may set (staff only); the others follow from dates."""

    valid = "valid"
    suspended = "suspended"
    revoked = "revoked"


class AccreditationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholder_id: Id
    scheme_id: Id
    certificate_no: str = Field(min_length=1, max_length=100)
    issued_on: IsoDate
    expires_on: IsoDate | None = Field(None, description="Defaults to `issued_on` plus the scheme's validity.")
    evidence_url: AnyHttpUrl | None = Field(None, description="Where staff can check the certificate.")

    _issued = field_validator("issued_on")(_not_in_future)
    _expires = field_validator("expires_on")(_after("issued_on"))


class AccreditationPatch(BaseModel):
    """Staff decide ``status`` (suspended and revoked need a ``reason``); a provider may
    correct its own evidence while it is pending."""

    model_config = ConfigDict(extra="forbid")

    status: Decision | None = None
    reason: Reason | None = None
    certificate_no: str | None = Field(None, min_length=1, max_length=100)
    issued_on: IsoDate | None = None
    expires_on: IsoDate | None = None
    evidence_url: AnyHttpUrl | None = None

    _not_null = not_null("status", "certificate_no", "issued_on", "expires_on", "evidence_url")
    _issued = field_validator("issued_on")(_not_in_future)
    _expires = field_validator("expires_on")(_after("issued_on"))


EVIDENCE_FIELDS = frozenset({"certificate_no", "issued_on", "expires_on", "evidence_url"})


class AccreditationOut(BaseModel):
    id: str
    stakeholder_id: str
    scheme_id: str
    certificate_no: str
    issued_on: date
    expires_on: date
    evidence_url: str | None = Field(description="Shown to staff and the provider itself.")
    status: AccreditationStatus = Field(description="Computed from the stored decision and today's date.")
    reason: str | None
    created_at: datetime
    updated_at: datetime


# -- memberships ---------------------------------------------------------------------------------

class MembershipTier(StrEnum):
    associate = "associate"
    standard = "standard"
    premium = "premium"
    founding = "founding"


class MembershipStatus(StrEnum):
    active = "active"
    lapsed = "lapsed"
    cancelled = "cancelled"


class MembershipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholder_id: Id
    tier: MembershipTier
    dues: Money
    period_start: IsoDate
    period_end: IsoDate = Field(description="The last day of the paid period; the membership lapses after it.")

    _period = field_validator("period_end")(_after("period_start"))


class MembershipPatch(BaseModel):
    """Renew (``period_end``), re-tier, or cancel; cancelled is final."""

    model_config = ConfigDict(extra="forbid")

    tier: MembershipTier | None = None
    dues: Money | None = None
    period_end: IsoDate | None = None
    status: MembershipStatus | None = Field(None, description="Only `cancelled` may be set; "
                                            "active and lapsed follow from `period_end`.")

    _not_null = not_null("tier", "dues", "period_end", "status")

    @field_validator("status")
    @classmethod
    def _only_cancel(cls, value: MembershipStatus | None) -> MembershipStatus | None:
        if value not in (None, MembershipStatus.cancelled):
            raise ValueError("only 'cancelled' can be set; active and lapsed follow from period_end")
        return value


class MembershipOut(BaseModel):
    id: str
    stakeholder_id: str
    tier: MembershipTier
    dues: Money
    period_start: date
    period_end: date
    status: MembershipStatus
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


# -- complaints ----------------------------------------------------------------------------------

class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ComplaintCategory(StrEnum):
    clinical = "clinical"
    service = "service"
    billing = "billing"
    communication = "communication"
    accommodation = "accommodation"
    transfer = "transfer"
    other = "other"


class ComplaintStatus(StrEnum):
    open = "open"
    investigating = "investigating"
    resolved = "resolved"
    dismissed = "dismissed"


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholder_id: Id = Field(description="Who the complaint is about.")
    enquiry_id: Id | None = Field(None, description="The Promotion enquiry it arose from, if any.")
    category: ComplaintCategory
    severity: Severity
    description: str = Field(min_length=1, max_length=4000,
                             description="What happened; no patient contact data (it is not needed here).")


class ComplaintPatch(BaseModel):
    """Move it along open → investigating → resolved | dismissed (closing needs a
    ``resolution``), or re-triage its ``severity`` (the SLA follows)."""

    model_config = ConfigDict(extra="forbid")

    status: ComplaintStatus | None = None
    resolution: str | None = Field(None, min_length=1, max_length=4000)
    severity: Severity | None = None

    _not_null = not_null("status", "resolution", "severity")


class ComplaintOut(BaseModel):
    id: str
    stakeholder_id: str
    enquiry_id: str | None
    category: ComplaintCategory
    severity: Severity
    description: str
    status: ComplaintStatus
    due_at: datetime = Field(description="When its SLA (by severity) runs out.")
    overdue: bool = Field(description="Unresolved past `due_at`.")
    resolution: str | None
    filed_by: str | None = Field(description="The facilitator that filed it; null when DMO staff did.")
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


# -- audit ---------------------------------------------------------------------------------------

class AuditEntity(StrEnum):
    scheme = "scheme"
    accreditation = "accreditation"
    membership = "membership"
    complaint = "complaint"


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    actor: str = Field(description="The API key that made the change, or `sweep:<name>` for the clock.")
    actor_role: str
    actor_stakeholder_id: str | None
    entity: AuditEntity
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str
