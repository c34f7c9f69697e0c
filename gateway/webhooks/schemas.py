"""What the webhook API takes and gives."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EventType = str


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, examples=["https://hooks.example.org/pentad"],
                     description="Where to POST the events: an http(s) URL on a public address.")
    events: list[EventType] = Field(min_length=1, max_length=100, examples=[["enquiry.routed", "quote.accepted"]],
                                    description="The event types to receive (as in the services' event feeds); "
                                                "only events about what this key may read are sent.")


class WebhookStatus(StrEnum):
    active = "active"
    disabled = "disabled"  # after sustained failure; a successful redelivery makes it active again


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["whk_01jd8x4m7q2c9v5n3t6r8y0w1z"])
    url: str = Field(examples=["https://hooks.example.org/pentad"])
    events: list[EventType] = Field(examples=[["enquiry.routed", "quote.accepted"]])
    status: WebhookStatus
    disabled_reason: str | None = Field(default=None, examples=[
        "20 attempts in a row failed since 2026-11-26T08:00:00+00:00 (the last: answered 503)"])
    key_id: str = Field(description="The key that subscribed: the events are those it may read.")
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        description="The signing secret (`whsec_...`): shown once, in this answer only. A replay of the same "
                    "Idempotency-Key returns the subscription with `secret` null.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])


class DeliveryStatus(StrEnum):
    pending = "pending"  # due at next_attempt_at
    delivered = "delivered"  # a 2xx answer
    failed = "failed"  # retried until webhooks_retry_hours passed; redeliver to try again


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    status_code: int | None = Field(description="The receiver's answer; null when there was none.")
    latency_ms: int
    error: str | None = Field(default=None, examples=["answered 503"])


class DeliveryOut(BaseModel):
    id: str = Field(description="The message id, sent as `webhook-id` on every attempt: deduplicate on it.",
                    examples=["msg_01jd8x5a2b3c4d5e6f7g8h9j0k"])
    webhook_id: str = Field(examples=["whk_01jd8x4m7q2c9v5n3t6r8y0w1z"])
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next; null unless pending.")
    created_at: datetime
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_latency_ms: int | None = None
    log: list[AttemptOut] = Field(description="The attempts, latest first (up to 20).")
    payload: dict[str, Any] = Field(description="The body sent (a CloudEvents 1.0 JSON event).")
