"""From the services' event feeds to deliveries: which subscription gets which event.

A pass over one feed reads the stored position, a page of events after it, then in ONE
transaction writes a delivery for each (event, subscription) the subscription's key may
read (``catalogue.view``) and moves the position: a pass that dies before its commit is
read again, one that committed is never read again, so no event is lost or fanned out
twice. With several gateway replicas on PostgreSQL the transaction holds an advisory lock
per feed and re-reads the position under it, as the coordinator's consumer does
(``services/dmo/feeds.py``); SQLite has one writer.

A subscription receives the events that happened after it was made (an event's ``time``
at or after its ``created_at``): subscribing is not a replay of history.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ApiKey, WebhookCursor, WebhookDelivery, WebhookSubscription
from gateway.webhooks import catalogue
from pentad.db import Database, write_intent
from pentad.feed_reader import PAGE_SIZE, FeedReader
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.outbox import CloudEvent

log = structlog.get_logger("pentad.webhooks")


async def position(session: AsyncSession, feed: str) -> int:
    return int(await session.scalar(sa.select(WebhookCursor.seq).where(WebhookCursor.feed == feed)) or 0)


async def _move(session: AsyncSession, feed: str, seq: int) -> None:
    cursor = await session.get(WebhookCursor, feed)
    if cursor is None:
        session.add(WebhookCursor(feed=feed, seq=seq, updated_at=datetime.now(UTC)))
    else:
        cursor.seq, cursor.updated_at = seq, datetime.now(UTC)


async def subscribers(session: AsyncSession) -> list[tuple[WebhookSubscription, Caller]]:
    """Active subscriptions of keys not revoked, with the caller each key stands for."""
    rows = (await session.execute(
        sa.select(WebhookSubscription, ApiKey.role, ApiKey.stakeholder_id)
        .join(ApiKey, ApiKey.id == WebhookSubscription.key_id)
        .where(WebhookSubscription.status == "active", ApiKey.revoked_at.is_(None)))).all()
    return [(sub, Caller(sub.key_id, Role(role), stakeholder_id)) for sub, role, stakeholder_id in rows]


def payload(event: CloudEvent, data: dict[str, object]) -> dict[str, object]:
    """The body sent: the event in CloudEvents 1.0 JSON form, with the data the key may read."""
    body = event.model_dump(mode="json", exclude={"seq", "data"})
    return {**body, "data": data}


def fan_out(events: Sequence[CloudEvent], subs: Sequence[tuple[WebhookSubscription, Caller]], *,
            retry_hours: float) -> list[WebhookDelivery]:
    now = datetime.now(UTC)
    made = []
    for event in events:
        for sub, caller in subs:
            if event.type not in sub.events or event.time < sub.created_at:
                continue
            data = catalogue.view(caller, event.type, event.data)
            if data is None:
                continue
            made.append(WebhookDelivery(
                id=new_id("msg"), subscription_id=sub.id, event_id=event.id, event_type=event.type,
                payload=payload(event, data), status="pending", attempts=0, next_attempt_at=now,
                retry_until=now + timedelta(hours=retry_hours), created_at=now))
    return made


async def pass_once(db: Database, reader: FeedReader, *, retry_hours: float,
                    limit: int = PAGE_SIZE) -> tuple[int, bool]:
    """Fan out one page of the reader's feed: (events read, whether the feed is drained for now)."""
    feed = reader.service
    async with db.read_sessionmaker() as session:
        after = await position(session, feed)
    page = await reader.page(after=after, limit=limit)
    if not page.items:
        return 0, True
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            if db.dialect == "postgresql" and not await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(
                    zlib.crc32(f"webhooks.feed:{feed}".encode())))):
                return 0, False  # another replica is fanning this feed out
            if await position(session, feed) != after:
                return 0, False  # moved meanwhile: this page is stale
            made = fan_out(page.items, await subscribers(session), retry_hours=retry_hours)
            session.add_all(made)
            await _move(session, feed, page.items[-1].seq)
            await session.commit()
    finally:
        write_intent.reset(token)
    if made:
        log.info("webhooks.fanned_out", feed=feed, events=len(page.items), deliveries=len(made),
                 seq=page.items[-1].seq)
    return len(page.items), page.next_cursor is None


async def drain(db: Database, reader: FeedReader, *, retry_hours: float) -> int:
    """Pages of the reader's feed until it is drained for now; how many events were read."""
    read = 0
    while True:
        count, drained = await pass_once(db, reader, retry_hours=retry_hours)
        read += count
        if drained or count == 0:
            return read
