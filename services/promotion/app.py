"""Builds the Promotion service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.promotion import api


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="promotion"),
        title="Pentad Promotion",
        description=(
            "Campaigns bound to segments and markets, enquiries routed to partners, attribution."
        ),
        routers=[api.router],
    )
