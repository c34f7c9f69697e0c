"""What the enquiry half of the Promotion API takes and gives: enquiries and their funnel,
assignments to providers, quotes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pentad.codes import CountryCode, CurrencyCode, LanguageCode, SpecialtyCode
from pentad.money import Total
from pentad.schemas import IsoDate, IsoDateTime, not_null, unique

Id = Annotated[str, Field(min_length=1, max_length=40)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
MAX_WINDOW_DAYS = 366  # Integration's weekly supply answers at most this span


class EnquiryStatus(StrEnum):
    new = "new"
    routed = "routed"
    responded = "responded"
    quoted = "quoted"
    booked = "booked"
    treated = "treated"
    lost = "lost"


class ConsentScope(StrEnum):
    """What the patient agreed their contact data may be used for."""

    routing = "routing"  # shared with the DMO and routed to providers that can treat
    quotes = "quotes"  # quoted by those providers through the facilitator
    follow_up = "follow_up"  # contacted after treatment


class Contact(BaseModel):
    """The minimum needed to reach the patient: a name and one way to reach them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                              examples=["patient@example.org"])
    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9 ]{5,19}$", description="E.164, spaces allowed.",
                              examples=["+44 20 7946 0000"])

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number")
        return self


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given_at: IsoDateTime = Field(description="When the patient gave it (with its UTC offset).")
    scope: list[ConsentScope] = Field(min_length=1, max_length=3)

    @field_validator("given_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + timedelta(minutes=5):  # a little clock skew is not a lie
            raise ValueError("cannot be in the future")
        return value.astimezone(UTC)

    _unique = field_validator("scope")(classmethod(lambda cls, v: unique(v)))


class Consent(BaseModel):
    given_at: datetime
    scope: list[str]
    recorded_by: str = Field(description="The key that recorded the consent.")


class EnquiryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    specialty: SpecialtyCode
    source_market: CountryCode
    segment_id: Id | None = Field(None, description="Matched from Segmentation when left out.")
    campaign_id: Id | None = None
    tracking_code: str | None = Field(None, min_length=1, max_length=40)
    facilitator_id: Id | None = Field(None, description="Staff only: the facilitator the enquiry belongs to. "
                                      "A facilitator key's enquiry is its own.")
    preferred_from: IsoDate
    preferred_to: IsoDate
    languages: list[LanguageCode] = Field(min_length=1, max_length=10)
    contact: Contact
    consent: ConsentIn

    _unique = field_validator("languages")(classmethod(lambda cls, v: unique(v)))

    @model_validator(mode="after")
    def _window(self) -> EnquiryIn:
        if self.preferred_to < self.preferred_from:
            raise ValueError("preferred_to is before preferred_from")
        if (self.preferred_to - self.preferred_from).days > MAX_WINDOW_DAYS:
            raise ValueError(f"the preferred window spans at most {MAX_WINDOW_DAYS} days")
        if self.preferred_to < datetime.now(UTC).date():
            raise ValueError("the preferred window is over")
        return self


class EnquiryPatch(BaseModel):
    """A step of the funnel the caller takes: booked (naming the accepted quote), treated, or
    lost (with the reason). Routing, responses and quotes move the rest."""

    model_config = ConfigDict(extra="forbid")

    status: EnquiryStatus | None = None
    status_reason: Reason | None = None
    booked_quote_id: Id | None = None

    _not_null = not_null("status")


class AssignmentStatus(StrEnum):
    pending = "pending"
    responded = "responded"
    declined = "declined"
    withdrawn = "withdrawn"


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stakeholder_id: str
    routed_at: datetime
    respond_by: datetime
    status: AssignmentStatus
    responded_at: datetime | None
    reason: str | None
    breached: bool = Field(description="The provider let `respond_by` pass without answering.")


class AssignmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AssignmentStatus | None = Field(None, description="responded or declined (with a reason).")
    reason: Reason | None = None
    respond_by: IsoDateTime | None = Field(None, description="Staff only: move the deadline (e.g. over a "
                                             "holiday); one already passed is a breach.")

    _not_null = not_null("status", "respond_by")


class EnquiryOut(BaseModel):
    id: str
    facilitator_id: str | None = Field(description="Not shown to providers: the DMO mediates.")
    specialty: str
    source_market: str
    segment_id: str | None
    segment_matched: bool = Field(description="True when the segment was matched here, not given.")
    campaign_id: str | None
    tracking_code: str | None
    preferred_from: date
    preferred_to: date
    languages: list[str]
    status: EnquiryStatus
    status_reason: str | None
    booked_quote_id: str | None
    contact: Contact | None = Field(description="Staff and the owning facilitator only; null once erased.")
    contact_erased_at: datetime | None
    consent: Consent | None = Field(description="Staff and the owning facilitator only.")
    assignments: list[AssignmentOut] = Field(description="A provider sees only its own.")
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None


class RoutingRetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stakeholder_id: Id | None = Field(None, description="Withdraw this provider's open assignments it can no "
                                      "longer take (replaced where another provider can).")


# -- quotes --------------------------------------------------------------------------------------

class QuoteStatus(StrEnum):
    draft = "draft"
    sent = "sent"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"
    withdrawn = "withdrawn"


class QuoteItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500)
    amount_minor: int = Field(ge=0, le=10**15, description="In the currency's minor unit (cents for EUR).")
    currency: CurrencyCode


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[QuoteItem] = Field(min_length=1, max_length=50, description="All in one currency.")
    package_id: Id | None = None
    valid_until: IsoDate
    status: QuoteStatus = Field(QuoteStatus.draft, description="draft, or sent at once.")
    stakeholder_id: Id | None = Field(None, description="The provider quoting: its own key's stakeholder, or "
                                      "(staff, entering a quote a provider sent the DMO) the routed provider.")

    @field_validator("valid_until")
    @classmethod
    def _not_past(cls, value: date) -> date:
        if value < datetime.now(UTC).date():
            raise ValueError("is in the past")
        return value


class QuotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: QuoteStatus | None = None
    items: list[QuoteItem] | None = Field(None, min_length=1, max_length=50)
    package_id: Id | None = None
    valid_until: IsoDate | None = None

    _not_null = not_null("status", "items", "valid_until")


class QuoteOut(BaseModel):
    id: str
    enquiry_id: str
    stakeholder_id: str
    items: list[dict[str, Any]]
    total: Total
    package_id: str | None
    valid_until: date
    status: QuoteStatus
    sent_at: datetime | None
    decided_at: datetime | None
    total_in: Total | None = Field(None, description="With `?currency=`: the total converted.")
    fx_rates: dict[str, str] | None = Field(None, description="The rates used, units per one `fx_base`.")
    fx_base: str | None = None
    created_at: datetime
    updated_at: datetime
