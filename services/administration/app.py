"""Builds the Administration service."""

from __future__ import annotations

from pentad.http import ASGIApp
from pentad.service_app import build_service_app
from pentad.settings import Settings
from pentad.sweeps import Sweep
from services.administration import accreditations, api, memberships

# Date-driven events: published once each, whichever replica's pass gets there first.
SWEEPS = (
    Sweep("accreditation-dates", accreditations.sweep_dates),
    Sweep("membership-lapses", memberships.sweep_lapses),
)


def create_app(settings: Settings | None = None) -> ASGIApp:
    return build_service_app(
        settings or Settings(service="administration"),
        title="Pentad Administration",
        description=(
            "Accreditation schemes and records, memberships, complaints and the audit trail."
        ),
        routers=[api.router],
        sweeps=SWEEPS,
    )
