"""Builds the Integration service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from services.integration import api
from services.segmentation.client import SpecialtyVocabulary


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="integration"),
        title="Pentad Integration",
        description=(
            "The stakeholder register, provider capacity, packages and quotes: one integrated offer."
        ),
        routers=[api.router],
        state=lambda _: {"vocabulary": SpecialtyVocabulary(ttl=60.0)},
    )
