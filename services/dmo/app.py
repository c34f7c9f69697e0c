"""Builds the DMO coordinator service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.dmo import api


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="dmo"),
        title="Pentad DMO coordinator",
        description=(
            "Cross-pillar actions and reactions: offer, readiness, campaign launch, scorecard."
        ),
        routers=[api.router],
    )
