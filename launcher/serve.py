"""Runs one component (a service or the gateway) under uvicorn: ``python -m launcher.serve NAME``.

Settings come from the environment (``PENTAD_*``); this is what ``pentad up`` starts for
each process and what the container image runs.
"""

from __future__ import annotations

import sys

import uvicorn

from pentad.components import COMPONENT_NAMES, named
from pentad.logging import configure_logging
from pentad.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in COMPONENT_NAMES:
        sys.exit(f"usage: python -m launcher.serve {{{','.join(COMPONENT_NAMES)}}}")
    settings = Settings(service=args[0])
    configure_logging(service=settings.service, fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(named(settings.service).create_app(settings), host=settings.host, port=settings.port,
                loop="uvloop", http="httptools", access_log=False, log_config=None,
                server_header=False, timeout_graceful_shutdown=10,
                # Longer than the gateway keeps an idle upstream connection (gateway/upstream.py).
                timeout_keep_alive=75)


if __name__ == "__main__":
    main()
