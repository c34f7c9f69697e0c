"""Sending due deliveries: claim, POST signed, record the answer.

A sender claims a batch of due deliveries by leasing them (``lease_until``, ``lease_token``)
in a short transaction; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several gateway
replicas claim side by side without taking the same delivery, and SQLite has one writer.
Each answer is recorded right after it arrives, in its own transaction, and only by the
holder of the lease: a 2xx marks the delivery delivered, so a sender that dies after it
resends nothing; one that dies before it leaves the lease to expire (3x the attempt
timeout) and the delivery is sent again, with the same ``webhook-id``: at least once.

Back-off: base x 2^(attempts-1) seconds (capped), until ``retry_until``; then the delivery
is failed. A subscription whose attempts all failed for ``webhooks_disable_after_hours`` and
at least ``webhooks_disable_after_failures`` times in a row is disabled. A revoked key's
subscriptions are never claimed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Histogram

from gateway.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookSubscription
from gateway.webhooks import signing, targets
from pentad.db import Database, write_intent
from pentad.ids import new_id
from pentad.metrics import BUCKETS
from pentad.settings import Settings

log = structlog.get_logger("pentad.webhooks")

ATTEMPTS = Counter("pentad_webhook_attempts", "Webhook delivery attempts, by outcome (delivered, failed, refused).",
                   ["outcome"])
LATENCY = Histogram("pentad_webhook_attempt_seconds", "Time from sending a webhook to its answer.",
                    buckets=BUCKETS)
DISABLED = Counter("pentad_webhook_subscriptions_disabled", "Subscriptions disabled after sustained failure.")

# A sender claims only what it sends at once, so no claimed delivery waits for a slow one's
# attempt to end while its lease runs out (another replica would then send it a second time).
CONCURRENCY = 10
BATCH = CONCURRENCY


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    subscription_id: str
    url: str
    secret: str
    body: bytes
    token: str


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def lease_seconds(settings: Settings) -> float:
    # A claimed batch is sent all at once (``CONCURRENCY`` at most), each attempt bounded by the
    # timeout, then recorded: three timeouts leave room for the recording on a loaded database.
    return settings.webhooks_timeout_seconds * 3


async def claim(db: Database, settings: Settings, *, limit: int = BATCH) -> list[Claimed]:
    now, token = datetime.now(UTC), new_id("lease")
    due = (sa.select(WebhookDelivery.id)
           .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
           .join(ApiKey, ApiKey.id == WebhookSubscription.key_id)
           .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                  sa.or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                  WebhookSubscription.status == "active", ApiKey.revoked_at.is_(None))
           .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if db.dialect == "postgresql":
        due = due.with_for_update(of=WebhookDelivery, skip_locked=True)
    flag = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            await session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
                lease_until=now + timedelta(seconds=lease_seconds(settings)), lease_token=token))
            rows = (await session.execute(
                sa.select(WebhookDelivery.id, WebhookDelivery.subscription_id, WebhookDelivery.payload,
                          WebhookSubscription.url, WebhookSubscription.secret)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.id.in_(ids)))).all()
            await session.commit()
    finally:
        write_intent.reset(flag)
    return [Claimed(r.id, r.subscription_id, r.url, r.secret, json.dumps(r.payload, separators=(",", ":")).encode(),
                    token) for r in rows]


async def post(http: httpx.AsyncClient, claimed: Claimed, settings: Settings) -> Answer:
    """One attempt: the URL checked again (it may resolve elsewhere now), then the signed POST."""
    started = time.monotonic()

    def answer(status: int | None, error: str | None) -> Answer:
        return Answer(status, int((time.monotonic() - started) * 1000), error)

    # One deadline for the whole attempt (DNS, connect, every read): a receiver that trickles its
    # answer byte by byte, or never ends it, holds a sender no longer than the timeout.
    try:
        async with asyncio.timeout(settings.webhooks_timeout_seconds):
            try:
                target = await targets.resolve(claimed.url, allow_private=settings.webhooks_allow_private)
            except targets.Refused as exc:
                return answer(None, f"refused: {exc}"[:300])
            headers = signing.headers(claimed.secret, msg_id=claimed.id, timestamp=int(time.time()),
                                      body=claimed.body)
            if target.host_header:
                headers["host"] = target.host_header
            # The answer's body is never read: only its status counts, and a receiver must not be
            # able to fill the gateway's memory with an endless one.
            async with http.stream("POST", target.url, content=claimed.body, headers=headers,
                                   extensions={"sni_hostname": target.tls_name} if target.tls_name else None) as r:
                status = r.status_code
    except TimeoutError:
        return answer(None, f"no answer within {settings.webhooks_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return answer(None, f"{type(exc).__name__}: {exc}"[:300])
    return answer(status, None if 200 <= status < 300 else f"answered {status}")


def backoff(attempts: int, settings: Settings) -> timedelta:
    delay = min(settings.webhooks_retry_base_seconds * 2 ** min(attempts - 1, 30),
                settings.webhooks_retry_max_delay_seconds)
    return timedelta(seconds=delay * (1 + random.random() / 10))  # spread retries of many failing at once


async def record(db: Database, claimed: Claimed, answer: Answer, settings: Settings) -> None:
    now = datetime.now(UTC)
    flag = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            # The subscription first, then its delivery: the order redeliver and delete lock them in,
            # so the two never wait on each other (a deadlock would lose the answer recorded here).
            sub = (await session.scalars(sa.select(WebhookSubscription).where(
                WebhookSubscription.id == claimed.subscription_id).with_for_update())).first()
            delivery = (await session.scalars(sa.select(WebhookDelivery).where(
                WebhookDelivery.id == claimed.id, WebhookDelivery.lease_token == claimed.token)
                .with_for_update())).first()
            if sub is None or delivery is None:
                return  # deleted, redelivered or re-leased meanwhile: not ours to record
            session.add(WebhookAttempt(delivery_id=delivery.id, at=now, status_code=answer.status_code,
                                       latency_ms=answer.latency_ms, error=answer.error))
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_latency_ms = answer.status_code, answer.latency_ms
            delivery.last_error, delivery.lease_until, delivery.lease_token = answer.error, None, None
            if answer.ok:
                delivery.status, delivery.delivered_at = "delivered", now
                sub.failures, sub.failing_since = 0, None
            else:
                _failed(delivery, sub, now, settings)
            await session.commit()
    finally:
        write_intent.reset(flag)


def _failed(delivery: WebhookDelivery, sub: WebhookSubscription, now: datetime, settings: Settings) -> None:
    upcoming = now + backoff(delivery.attempts, settings)
    if upcoming > delivery.retry_until:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = upcoming
    sub.failures += 1
    sub.failing_since = sub.failing_since or now
    sustained = now - sub.failing_since >= timedelta(hours=settings.webhooks_disable_after_hours)
    if sub.status == "active" and sustained and sub.failures >= settings.webhooks_disable_after_failures:
        sub.status = "disabled"
        sub.disabled_reason = (f"{sub.failures} attempts in a row failed since {sub.failing_since.isoformat()} "
                               f"(the last: {delivery.last_error})")[:300]
        DISABLED.inc()
        log.warning("webhooks.subscription_disabled", webhook_id=sub.id, failures=sub.failures)


async def send_due(db: Database, http: httpx.AsyncClient, settings: Settings) -> int:
    """Claim a batch and send it, a few at a time; how many were sent."""
    batch = await claim(db, settings)

    async def one(claimed: Claimed) -> None:
        answer = await post(http, claimed, settings)
        await record(db, claimed, answer, settings)
        outcome = "delivered" if answer.ok else ("refused" if (answer.error or "").startswith("refused") else "failed")
        ATTEMPTS.labels(outcome).inc()
        LATENCY.observe(answer.latency_ms / 1000)
        log.info("webhooks.attempt", delivery_id=claimed.id, webhook_id=claimed.subscription_id,
                 status=answer.status_code, latency_ms=answer.latency_ms, outcome=outcome)

    await asyncio.gather(*(one(c) for c in batch))
    return len(batch)
