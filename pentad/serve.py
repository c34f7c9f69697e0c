"""Runs one component (a service or the gateway) under uvicorn: ``python -m pentad.serve NAME``.

Settings come from the environment (``PENTAD_*``); this is what ``pentad up`` starts for
each process and what the container image runs.
"""

from __future__ import annotations

import importlib
import sys

import uvicorn

from pentad.logging import configure_logging
from pentad.migrate import COMPONENTS
from pentad.settings import Settings


def build(component: str, settings: Settings) -> object:
    module = "gateway.app" if component == "gateway" else f"services.{component}.app"
    return importlib.import_module(module).create_app(settings)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in COMPONENTS:
        sys.exit(f"usage: python -m pentad.serve {{{','.join(COMPONENTS)}}}")
    settings = Settings(service=args[0])
    configure_logging(service=settings.service, fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(build(settings.service, settings), host=settings.host, port=settings.port,  # type: ignore[arg-type]
                loop="uvloop", http="httptools", access_log=False, log_config=None,
                server_header=False, timeout_graceful_shutdown=10,
                # Longer than the gateway keeps an idle upstream connection (gateway/upstream.py).
                timeout_keep_alive=75)


if __name__ == "__main__":
    main()
