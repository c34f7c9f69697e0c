"""The webhook loop: fan the feeds out, send what is due; a background task of the gateway.

Two tasks, so a slow receiver never holds back the fan-out (nor one service that is down
the others' feeds). Every replica runs them: the fan-out takes one feed at a time per
replica (advisory lock), senders split the due deliveries (``SKIP LOCKED``). A failed turn
is logged and the next one starts from what is stored.

``python -m gateway.webhooks.worker`` runs the same loop as a process of its own (settings
from the environment, as the gateway's), for a deployment that scales it apart.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import structlog

from gateway.webhooks import fanout, sender
from pentad.client import UpstreamError
from pentad.components import SERVICE_NAMES
from pentad.db import Database
from pentad.feed_reader import FeedReader
from pentad.logging import configure_logging
from pentad.service_app import resources
from pentad.settings import Settings

log = structlog.get_logger("pentad.webhooks")


def enabled(settings: Settings) -> bool:
    return settings.webhooks_poll_seconds > 0


async def fan_out_forever(db: Database, http: httpx.AsyncClient, settings: Settings) -> None:
    readers = [FeedReader(http, settings, feed) for feed in SERVICE_NAMES if feed in settings.service_urls]
    while True:
        for reader in readers:
            try:
                await fanout.drain(db, reader, retry_hours=settings.webhooks_retry_hours)
            except UpstreamError as exc:  # one service down holds back its own feed only
                log.warning("webhooks.feed_unavailable", feed=reader.service, detail=str(exc.detail))
            except Exception:
                log.exception("webhooks.fan_out_failed", feed=reader.service)
        # Each feed was drained (a backlog is paged through at once by ``drain``): wait a poll
        # whether or not it had events. Going round again at once while events kept coming made
        # this a busy loop under steady writes (a position read, a feed page and a commit every
        # few events): half the gateway's CPU under a PATCH benchmark, with no subscription at all.
        await asyncio.sleep(settings.webhooks_poll_seconds)


async def send_forever(db: Database, settings: Settings) -> None:
    # Its own client: no redirects followed (a 3xx is a failure, never a hop to an address
    # not checked), no proxy from the environment, the attempt's own timeout.
    async with httpx.AsyncClient(timeout=settings.webhooks_timeout_seconds, follow_redirects=False,
                                 trust_env=False) as http:
        while True:
            try:
                sent = await sender.send_due(db, http, settings)
            except Exception:
                log.exception("webhooks.send_failed")
                sent = 0
            await asyncio.sleep(0 if sent else settings.webhooks_poll_seconds)


def start(db: Database, http: httpx.AsyncClient, settings: Settings) -> list[asyncio.Task[None]]:
    if not enabled(settings):
        log.info("webhooks.off")
        return []
    return [asyncio.create_task(fan_out_forever(db, http, settings)), asyncio.create_task(send_forever(db, settings))]


async def _main() -> None:
    settings = Settings(service="gateway")
    configure_logging(service="webhooks", fmt=settings.log_format, level=settings.log_level)
    async with resources(settings, http_timeout=10.0) as state:
        tasks = start(state["db"], state["http"], settings)
        try:
            await asyncio.gather(*tasks)
        finally:
            await stop(tasks)


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


if __name__ == "__main__":
    asyncio.run(_main())
