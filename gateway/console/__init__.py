"""The DMO back-office console (issue 12): HTML pages at ``/console`` over the public API."""

from __future__ import annotations

from importlib import resources as package_files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

PREFIX = "/console"
STATIC = PREFIX + "/static"


def is_console_path(path: str) -> bool:
    """The console's own paths: it signs its users in itself, so the gateway lets them through keyless."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def install(app: FastAPI) -> None:
    from gateway.console.pages import router

    app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=str(package_files.files("gateway.console") / "static")),
              name="console-static")
