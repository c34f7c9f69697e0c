"""Builds the DMO coordinator service: its routes, and the feed consumer running beside them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from pentad.state import RequestState
from services.dmo import action_api, api, offer, runner
from services.dmo.cache import AnswerCache
from services.dmo.consumer import consume
from services.dmo.runner import ActionSettings


async def feed_lag(state: RequestState) -> Mapping[str, Any]:
    """``/health/ready`` says how stale the read model may be."""
    async with state["db"].read_sessionmaker() as session:
        return await offer.feed_position(session, datetime.now(UTC))


def create_app(settings: Settings | None = None, *, actions: ActionSettings | None = None) -> ASGIApp:
    """``actions``: the action runner's clock (default: from ``PENTAD_DMO_ACTIONS_*``)."""
    return build_service_app(
        settings or Settings(service="dmo"),
        title="Pentad DMO coordinator",
        description=(
            "Cross-pillar actions and reactions: offer, readiness, campaign launch, scorecard."
        ),
        routers=[api.router, action_api.router],
        # The runner's wake-up call: a route that creates an action rings it.
        state=lambda s: {"offer_cache": AnswerCache[bytes](ttl=s.dmo_offer_cache_seconds),
                         "action_wake": asyncio.Event()},
        # The feed consumer and the action runner, beside the routes in every process.
        background=[consume, partial(runner.work, config=actions or ActionSettings())],
        ready=feed_lag,
    )
