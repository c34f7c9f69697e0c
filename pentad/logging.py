"""structlog set-up: JSON lines in production (or when not a TTY), console in dev.

Every line carries ``service`` and, inside a request, ``request_id`` (bound through
contextvars by the request middleware).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

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
    global _fast
    if use_json:
        processors: list[Processor] = [*shared, structlog.processors.format_exc_info,
                      structlog.processors.JSONRenderer(serializer=orjson.dumps)]
        factory: structlog.types.WrappedLogger = structlog.BytesLoggerFactory(stream.buffer)
        _fast = _FastLine(processors[-1], stream.buffer.write, service) if level_no <= logging.INFO else None
    else:
        processors = [*shared, structlog.dev.ConsoleRenderer()]
        factory = structlog.PrintLoggerFactory(stream)
        _fast = None
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


@dataclass(frozen=True, slots=True)
class _FastLine:
    # The configuration's renderer: while it ends the processors in force, this is the
    # configuration the line renders like (capture_logs edits that very list, in place).
    renderer: Processor
    write: Callable[[bytes], Any]
    service: str


_fast: _FastLine | None = None
_access_log = structlog.get_logger("pentad.http")


def access_line(**fields: Any) -> None:
    """The per-request ``request`` line at info level. Through structlog it cost ~20 us a
    request (bound logger, five processors, a renderer); with the JSON configuration of
    ``configure_logging`` in force, the same line (same keys, same order) is rendered here
    directly. Anything else in force (console, a test's ``capture_logs``) gets it from structlog."""
    fast = _fast
    if fast is None or structlog.get_config()["processors"][-1:] != [fast.renderer]:
        _access_log.info("request", **fields)
        return
    fields["event"] = "request"
    for key, value in structlog.contextvars.get_contextvars().items():
        fields.setdefault(key, value)  # as merge_contextvars: the call's own fields win
    fields.setdefault("service", fast.service)
    fields["level"] = "info"
    fields["ts"] = round(time.time(), 6)
    fast.write(orjson.dumps(fields) + b"\n")
