"""Builds the Development service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.development import api


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="development"),
        title="Pentad Development",
        description="Thresholds, gap analysis and development initiatives towards a real cluster.",
        routers=[api.router],
    )
