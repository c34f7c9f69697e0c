"""The coordinator's background loop: keep the read model current, react, re-check on the clock.

Started with the process (``build_service_app(background=...)``). Each turn: rebuild from
the pillars' APIs if the read model is empty, drain each feed (a pillar that is down holds
back only its own feed: its lag grows, visible on ``/health/ready``), re-check every
segment's readiness when ``dmo_recheck_seconds`` have passed, then execute the reactions
recorded. A failed turn is logged and the next one starts over from the stored positions.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import structlog

from pentad.client import UpstreamError
from pentad.db import Database, try_lock, write_intent
from pentad.settings import Settings
from pentad.state import State
from services.development.client import DevelopmentClient
from services.dmo import feeds, offer, reactions, readmodel
from services.dmo.feeds import FEEDS, Pillars
from services.dmo.metrics import READ_MODEL_LAG
from services.dmo.rebuild import rebuild
from services.promotion.client import PromotionClient

log = structlog.get_logger("dmo.consumer")


def hands_of(state: State) -> reactions.Hands | None:
    """Promotion and Development, to act through; None when either is not configured (the
    reactions are still recorded, and executed by a process that has them)."""
    if any(s not in state["settings"].service_urls for s in ("promotion", "development")):
        return None
    return reactions.Hands(PromotionClient.for_settings(state["http"], state["settings"]),
                           DevelopmentClient.for_settings(state["http"], state["settings"]))


async def turn(db: Database, pillars: Pillars, hands: reactions.Hands | None, *, recheck: bool) -> int:
    """One turn of the loop; how many events it applied."""
    async with db.read_sessionmaker() as session:
        empty = await readmodel.is_empty(session)
    if empty:
        log.info("read_model.rebuilding", reason="empty")
        await rebuild(db, pillars, reason="empty")
    applied = 0
    for feed in FEEDS:
        try:
            applied += await feeds.drain(db, pillars, feed)
        except UpstreamError as exc:  # one pillar down holds back its own feed only
            log.warning("feed.unavailable", feed=feed, detail=str(exc.detail))
    if recheck:
        await recheck_all(db, pillars.settings)
    if hands:
        await reactions.run_pending(db, hands)
    return applied


async def recheck_all(db: Database, settings: Settings) -> None:
    token = write_intent.set(True)
    try:
        async with db.sessionmaker() as session:
            if not await try_lock(session, "dmo.recheck"):
                return
            await reactions.recheck_all(session, settings=settings)
            await session.commit()
    finally:
        write_intent.reset(token)


async def _observe_lag(db: Database) -> None:
    async with db.read_sessionmaker() as session:
        lag = (await offer.feed_position(session, datetime.now(UTC)))["lag_seconds"]
    READ_MODEL_LAG.set(-1 if lag is None else lag)


async def consume(state: State) -> None:
    """The loop itself; does nothing when polling is off (0) or a pillar's URL is not configured."""
    settings = state["settings"]
    if settings.dmo_feed_poll_seconds <= 0 or any(f not in settings.service_urls for f in FEEDS):
        log.info("consumer.off", poll=settings.dmo_feed_poll_seconds)
        return
    pillars, hands = Pillars.of(state["http"], settings), hands_of(state)
    checked = time.monotonic()
    while True:
        due = time.monotonic() - checked >= settings.dmo_recheck_seconds
        try:
            await turn(state["db"], pillars, hands, recheck=due)
            checked = time.monotonic() if due else checked
            await _observe_lag(state["db"])
        except Exception:
            log.exception("consumer.turn_failed")
        # Every feed was drained this turn (``feeds.drain`` pages through a backlog at once), so
        # wait a poll even when events came: going round at once made a busy loop under steady
        # writes (a page and a commit per few events), taking CPU from the offer's readers.
        await asyncio.sleep(settings.dmo_feed_poll_seconds)
