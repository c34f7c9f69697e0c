"""Tables of the Promotion service: campaigns and their spend, enquiries, assignments, quotes.

Money that is summed (spend, quote totals, for attribution) is a decimal column beside its
currency, so figures are exact sums in SQL; money that is only shown (a campaign's budget,
quote line items) keeps the contract's shape in JSON, as the other pillars store it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.orm import Versioned, utcnow
from pentad.tables import add_kit_tables, add_sweep_tables

AMOUNT = sa.Numeric(20, 4)  # exact; 4 places so converted figures keep their precision until shown


class Base(DeclarativeBase):
    metadata = make_metadata()


# -- campaigns ----------------------------------------------------------------------------------

class Campaign(Versioned, Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    segment_ids: Mapped[list[str]] = mapped_column(sa.JSON)  # at least one: never broad-brush
    source_markets: Mapped[list[str]] = mapped_column(sa.JSON)  # ISO 3166-1 alpha-2, at least one
    channels: Mapped[list[str]] = mapped_column(sa.JSON)
    budget: Mapped[dict[str, str]] = mapped_column(sa.JSON)  # {"amount": "…", "currency": "EUR"}
    starts_on: Mapped[date | None] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)  # draft, active, paused, ended
    status_reason: Mapped[str | None] = mapped_column(sa.String(500))
    tracking_code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    # Which coordinator action last activated it (the launch), so a retried activation is a no-op.
    activated_by_action: Mapped[str | None] = mapped_column(sa.String(80))


class SpendEntry(Base):
    """One line of a campaign's spend ledger; never changed once recorded (append-only)."""

    __tablename__ = "campaign_spend"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(sa.String(3))  # the budget's currency
    spent_on: Mapped[date] = mapped_column(sa.Date)
    channel: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # Staff may go over budget only by saying so; the override and its reason stay on the line.
    over_budget: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_by: Mapped[str] = mapped_column(sa.String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (sa.Index("ix_campaign_spend_campaign_id_spent_on", "campaign_id", "spent_on"),)


# -- enquiries ----------------------------------------------------------------------------------

class Enquiry(Versioned, Base):
    __tablename__ = "enquiries"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    facilitator_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)  # owning facilitator stakeholder
    created_by: Mapped[str] = mapped_column(sa.String(80))  # key id of the creator
    specialty: Mapped[str] = mapped_column(sa.String(60))
    source_market: Mapped[str] = mapped_column(sa.String(2))
    segment_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    segment_matched: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # matched by us, not given
    campaign_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    tracking_code: Mapped[str | None] = mapped_column(sa.String(40))
    preferred_from: Mapped[date] = mapped_column(sa.Date)
    preferred_to: Mapped[date] = mapped_column(sa.Date)
    languages: Mapped[list[str]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)  # new routed responded quoted booked treated lost
    status_reason: Mapped[str | None] = mapped_column(sa.String(500))  # why lost, or why not routed
    booked_quote_id: Mapped[str | None] = mapped_column(sa.String(40))
    # Special-category data: only here, never in a log line or an event. NULL once erased.
    # none_as_null: erasing writes SQL NULL, not the JSON text 'null'.
    contact: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    consent: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # {given_at, scope, recorded_by}
    contact_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # treated or lost

    __table_args__ = (sa.Index("ix_enquiries_status_created_at", "status", "created_at"),)


class EnquiryTransition(Base):
    """The funnel's audit: every status change of an enquiry, timestamped, by whom and why."""

    __tablename__ = "enquiry_transitions"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    enquiry_id: Mapped[str] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(80))
    reason: Mapped[str | None] = mapped_column(sa.String(500))


class Assignment(Base):
    """An enquiry routed to one provider, with the deadline it has to answer by."""

    __tablename__ = "assignments"

    enquiry_id: Mapped[str] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"), primary_key=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(20))  # pending, responded, declined, withdrawn
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # why declined or withdrawn
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # set once, by the sweep

    __table_args__ = (sa.Index("ix_assignments_stakeholder_id_status", "stakeholder_id", "status"),
                      sa.Index("ix_assignments_status_respond_by", "status", "respond_by"))


class Quote(Versioned, Base):
    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    enquiry_id: Mapped[str] = mapped_column(sa.ForeignKey("enquiries.id", ondelete="CASCADE"), index=True)
    stakeholder_id: Mapped[str] = mapped_column(sa.String(40), index=True)  # the provider quoting
    items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)  # [{description, amount_minor, currency}]
    total_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(sa.String(3))
    package_id: Mapped[str | None] = mapped_column(sa.String(40))
    valid_until: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20))  # draft sent accepted rejected expired withdrawn
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # At most one accepted quote per enquiry, held by the database itself so two concurrent
    # acceptances cannot both commit.
    __table_args__ = (sa.Index("uq_quotes_one_accepted", "enquiry_id", unique=True,
                               postgresql_where=sa.text("status = 'accepted'"),
                               sqlite_where=sa.text("status = 'accepted'")),)


add_kit_tables(Base.metadata)
add_sweep_tables(Base.metadata)  # deadlines breached and contact retention act once
