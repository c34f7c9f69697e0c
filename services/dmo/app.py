"""Builds the DMO coordinator service."""

from __future__ import annotations

import asyncio
from functools import partial

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.dmo import api, runner
from services.dmo.runner import ActionSettings


def create_app(settings: Settings | None = None, *, actions: ActionSettings | None = None) -> ASGIApp:
    """``actions``: the action runner's clock (default: from ``PENTAD_DMO_ACTIONS_*``)."""
    return build_service_app(
        settings or Settings(service="dmo"),
        title="Pentad DMO coordinator",
        description=(
            "Cross-pillar actions and reactions: offer, readiness, campaign launch, scorecard."
        ),
        routers=[api.router],
        # The runner's wake-up call: a route that creates an action rings it.
        state=lambda _: {"action_wake": asyncio.Event()},
        workers=[partial(runner.work, config=actions or ActionSettings())],
    )
