"""Subscriptions and their delivery log, as the API reads and changes them.

A key sees and deletes only its own subscriptions; an admin key sees and deletes all (it
manages keys, and a subscription lives as long as its key). Another key's subscription is
a 404: its existence is not told.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from gateway.webhooks import catalogue, signing, targets
from gateway.webhooks.schemas import AttemptOut, DeliveryOut, DeliveryStatus, WebhookIn
from pentad.errors import FieldError, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate

LOG_LENGTH = 20


async def check(webhook_in: WebhookIn, *, allow_private: bool) -> None:
    """Every problem of the subscription at once: unknown types, a URL that may not be used."""
    known = ", ".join(sorted(catalogue.KNOWN))
    errors = [FieldError(field=f"events.{i}", value=t, message=f"unknown event type; known: {known}")
              for i, t in catalogue.unknown(webhook_in.events)]
    try:
        await targets.resolve(webhook_in.url, allow_private=allow_private)
    except targets.Refused as exc:
        errors.append(FieldError(field="url", value=webhook_in.url[:200], message=str(exc)))
    if errors:
        raise Invalid("The subscription cannot be made as given.", errors=errors)


async def create(session: AsyncSession, *, caller: Caller, webhook_in: WebhookIn) -> WebhookSubscription:
    record = WebhookSubscription(
        id=new_id("whk"), key_id=caller.key_id, url=webhook_in.url, events=list(dict.fromkeys(webhook_in.events)),
        secret=signing.new_secret(), status="active", failures=0, created_at=datetime.now(UTC))
    session.add(record)
    await session.flush()
    return record


def _visible(caller: Caller) -> sa.ColumnElement[bool]:
    return sa.true() if caller.role == Role.admin else WebhookSubscription.key_id == caller.key_id


async def list_(session: AsyncSession, *, caller: Caller,
                paging: PageParams) -> tuple[Sequence[WebhookSubscription], str | None]:
    return await paginate(session, sa.select(WebhookSubscription).where(_visible(caller)),
                          WebhookSubscription.id, paging)


async def get_or_raise(session: AsyncSession, *, caller: Caller, webhook_id: str,
                       for_update: bool = False) -> WebhookSubscription:
    stmt = sa.select(WebhookSubscription).where(WebhookSubscription.id == webhook_id, _visible(caller))
    record = (await session.scalars(stmt.with_for_update() if for_update else stmt)).first()
    if record is None:
        raise NotFound(f"No webhook subscription {webhook_id!r}.")
    return record


async def delete(session: AsyncSession, *, subscription: WebhookSubscription) -> None:
    """With its deliveries and their log: nothing more is sent to it."""
    deliveries = sa.select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == subscription.id)
    await session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
    await session.delete(subscription)
    await session.flush()


async def deliveries(session: AsyncSession, *, subscription: WebhookSubscription,
                     paging: PageParams) -> tuple[list[DeliveryOut], str | None]:
    """Oldest first (ids grow with time), each with its latest attempts."""
    rows, cursor = await paginate(session, sa.select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id), WebhookDelivery.id, paging)
    return [present(row, await _log(session, row.id)) for row in rows], cursor


async def _log(session: AsyncSession, delivery_id: str) -> Sequence[WebhookAttempt]:
    return (await session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                  .order_by(WebhookAttempt.id.desc()).limit(LOG_LENGTH))).all()


def present(d: WebhookDelivery, log: Sequence[WebhookAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=d.id, webhook_id=d.subscription_id, event_id=d.event_id, event_type=d.event_type,
        status=DeliveryStatus(d.status),
        attempts=d.attempts, next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        created_at=d.created_at, delivered_at=d.delivered_at, last_status_code=d.last_status_code,
        last_latency_ms=d.last_latency_ms, log=[AttemptOut.model_validate(a) for a in log], payload=d.payload)


async def redeliver(session: AsyncSession, *, subscription: WebhookSubscription, delivery_id: str,
                    retry_hours: float) -> DeliveryOut:
    """Due again now, whatever its state, with the same ``webhook-id`` (a receiver that had it
    deduplicates). A disabled subscription becomes active again: the caller says its endpoint
    is fixed, and a failure starts the count afresh."""
    delivery = (await session.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id)
        .with_for_update())).first()
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id!r} of webhook subscription {subscription.id!r}.")
    now = datetime.now(UTC)
    delivery.status, delivery.next_attempt_at = "pending", now
    delivery.retry_until = now + timedelta(hours=retry_hours)
    delivery.lease_until = delivery.lease_token = None
    if subscription.status != "active":
        subscription.status, subscription.disabled_reason = "active", None
        subscription.failures, subscription.failing_since = 0, None
    await session.flush()
    return present(delivery, await _log(session, delivery.id))
