"""Builds the Segmentation service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.segmentation import api


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="segmentation"),
        title="Pentad Segmentation",
        description=(
            "Which patient segments the destination serves, from which source markets, and how attractive each is."
        ),
        routers=[api.router],
    )
