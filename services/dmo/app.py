"""Builds the DMO coordinator service: its routes, and the feed consumer running beside them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from pentad.state import RequestState
from services.dmo import api, offer
from services.dmo.cache import AnswerCache
from services.dmo.consumer import consume
from services.dmo.schemas import Offer


async def feed_lag(state: RequestState) -> Mapping[str, Any]:
    """``/health/ready`` says how stale the read model may be."""
    async with state["db"].read_sessionmaker() as session:
        return await offer.feed_position(session, datetime.now(UTC))


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="dmo"),
        title="Pentad DMO coordinator",
        description=(
            "Cross-pillar actions and reactions: offer, readiness, campaign launch, scorecard."
        ),
        routers=[api.router],
        state=lambda s: {"offer_cache": AnswerCache[Offer](ttl=s.dmo_offer_cache_seconds)},
        background=[consume],
        ready=feed_lag,
    )
