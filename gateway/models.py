"""The gateway's own tables: API keys (stored hashed), webhooks, and the console's ended sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pentad.db import UTCDateTime, make_metadata
from pentad.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    stakeholder_id: Mapped[str | None] = mapped_column(sa.String(64))
    # SHA-256 of the key: keys are 256 random bits, so a slow hash buys nothing here.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())



class WebhookSubscription(Base):
    """A key's subscription: where to send which event types, signed with ``secret``."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    # Kept as given (HMAC needs it): readable by whoever reads this database, like the
    # services' signing secret in the process environment. Never in an answer but the first.
    secret: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20))  # active, disabled
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(300))
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)  # consecutive failed attempts
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event for one subscription; its id is the ``webhook-id`` of every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime())  # failed, not retried, after this
    # A sender holds a delivery until ``lease_until``; one that died lets it go by then.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_latency_ms: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))


class WebhookAttempt(Base):
    """The delivery log: each try, its answer's status (none when there was no answer) and latency."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    latency_ms: Mapped[int] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.String(300))


class WebhookCursor(Base):
    """How far the fan-out has read each service's event feed."""

    __tablename__ = "webhook_cursors"

    feed: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsoleSignout(Base):
    """A console session signed out before its cookie expired: its cookie is refused from then on.

    Kept until ``expires_at`` (the cookie's own end), after which the cookie no longer opens anyway."""

    __tablename__ = "console_signouts"

    session_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    signed_out_at: Mapped[datetime] = mapped_column(UTCDateTime())


add_kit_tables(Base.metadata)
