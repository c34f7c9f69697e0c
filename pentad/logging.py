"""structlog set-up: JSON lines in production (or when not a TTY), console in dev.

Every line carries ``service`` and, inside a request, ``request_id`` (bound through
contextvars by the request middleware).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger


def _timestamp(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # time.time() and a float are much cheaper than strftime on the per-request path.
    event_dict["ts"] = round(time.time(), 6)
    return event_dict


def configure_logging(*, service: str, fmt: str = "auto", level: str = "info", cache: bool = True,
                      stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    level_no = logging.getLevelName(level.upper())
    if not isinstance(level_no, int):
        level_no = logging.INFO
    def _service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _service,
        structlog.processors.add_log_level,
        _timestamp,
    ]
    if use_json:
        processors: list[Processor] = [*shared, structlog.processors.format_exc_info,
                      structlog.processors.JSONRenderer(serializer=orjson.dumps)]
        factory: structlog.types.WrappedLogger = structlog.BytesLoggerFactory(stream.buffer)
    else:
        processors = [*shared, structlog.dev.ConsoleRenderer()]
        factory = structlog.PrintLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=factory,
        cache_logger_on_first_use=cache,  # tests turn it off to capture lines
    )
    # Libraries that use stdlib logging (uvicorn, alembic, sqlalchemy) go through structlog too.
    logging.basicConfig(level=level_no, handlers=[_StructlogHandler()], force=True)
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per outgoing call is noise
    # At debug, aiosqlite logs every statement with its parameters: what records hold (names,
    # patients' contact data) would reach the logs. SQLAlchemy's own echo stays the way to see SQL.
    logging.getLogger("aiosqlite").setLevel(max(level_no, logging.INFO))


class _StructlogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        logger = structlog.get_logger(record.name)
        msg = record.getMessage()
        if record.exc_info:
            logger.log(record.levelno, msg, exc_info=record.exc_info)
        else:
            logger.log(record.levelno, msg)
