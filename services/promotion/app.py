"""Builds the Promotion service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from pentad.sweeps import Sweep
from services.promotion import api, assignments, enquiries, enquiry_api, quotes

# Clock-driven work, acting once however many replicas run it.
SWEEPS = (
    Sweep("assignment-deadlines", assignments.sweep_breaches),
    Sweep("quote-expiry", quotes.sweep_expiry),
    Sweep("contact-retention", enquiries.sweep_contact_retention),
)


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="promotion"),
        title="Pentad Promotion",
        description=(
            "Campaigns bound to segments and markets, enquiries routed to partners, attribution."
        ),
        routers=[api.router, enquiry_api.router],
        sweeps=SWEEPS,
    )
