"""The registry of components: every place that needs "each service" reads it here.

A component is a package with the same rooms (``app.py``, ``models.py``, ``migrations/``,
optionally ``demo.py``); its position in ``SERVICES`` sets its port in ``pentad up`` (the
gateway's port plus one, plus two...) and the order the demo loads in. Adding a pillar is
one entry here and its package.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from types import ModuleType
from typing import Any


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    package: str

    def module(self, room: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{room}")

    def has(self, room: str) -> bool:
        return importlib.util.find_spec(f"{self.package}.{room}") is not None

    def create_app(self, settings: Any) -> Any:
        """The component's ASGI app (``<package>.app.create_app``)."""
        return self.module("app").create_app(settings)

    @property
    def migrations(self) -> Traversable:
        return resources.files(self.package) / "migrations"


SERVICES: tuple[Component, ...] = tuple(Component(name, f"services.{name}") for name in (
    "segmentation", "integration", "administration", "development", "promotion", "dmo"))
GATEWAY = Component("gateway", "gateway")
COMPONENTS: tuple[Component, ...] = (*SERVICES, GATEWAY)

SERVICE_NAMES: tuple[str, ...] = tuple(c.name for c in SERVICES)
COMPONENT_NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
_BY_NAME = {c.name: c for c in COMPONENTS}


def named(name: str) -> Component:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown component {name!r} (one of: {', '.join(COMPONENT_NAMES)})") from None
