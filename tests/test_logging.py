"""The access line's fast path renders exactly what structlog's JSON configuration renders."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest
import structlog

from pentad import logging as pentad_logging
from pentad.logging import access_line, configure_logging


class _Stream(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


_keep: list[_Stream] = []  # a collected wrapper would close the buffer under the logger


def _stream(raw: io.BytesIO) -> _Stream:
    _keep.append(_Stream(raw, write_through=True))
    return _keep[-1]


@pytest.fixture
def lines() -> Iterator[io.BytesIO]:
    raw = io.BytesIO()
    configure_logging(service="svc", fmt="json", level="info", cache=False, stream=_stream(raw))
    yield raw
    configure_logging(service="tests", fmt="json", level="info", cache=False)  # as conftest left it


def _parsed(raw: io.BytesIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in raw.getvalue().splitlines()]


def test_the_fast_access_line_equals_structlogs(lines: io.BytesIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="rid-1", traceparent="00-x")
    try:
        access_line(method="GET", path="/segments", status=200, duration_ms=1.5)
        assert pentad_logging._fast is not None
        fast = pentad_logging._fast
        pentad_logging._fast = None  # through structlog's processors this time
        access_line(method="GET", path="/segments", status=200, duration_ms=1.5)
        pentad_logging._fast = fast
    finally:
        structlog.contextvars.unbind_contextvars("request_id", "traceparent")
    quick, slow = _parsed(lines)
    assert list(quick) == list(slow)  # same keys, same order
    quick.pop("ts"), slow.pop("ts")
    assert quick == slow == {"method": "GET", "path": "/segments", "status": 200, "duration_ms": 1.5,
                             "event": "request", "request_id": "rid-1", "traceparent": "00-x",
                             "service": "svc", "level": "info"}


def test_another_configuration_in_force_gets_the_line(lines: io.BytesIO) -> None:
    with structlog.testing.capture_logs() as logs:
        access_line(method="GET", path="/x", status=404, duration_ms=0.1)
    assert logs == [{"method": "GET", "path": "/x", "status": 404, "duration_ms": 0.1, "event": "request",
                     "log_level": "info"}]
    assert lines.getvalue() == b""


def test_below_info_nothing_is_written() -> None:
    raw = io.BytesIO()
    try:
        configure_logging(service="svc", fmt="json", level="warning", stream=_stream(raw))
        access_line(method="GET", path="/x", status=200, duration_ms=0.1)
        assert raw.getvalue() == b""
    finally:
        configure_logging(service="tests", fmt="json", level="info", cache=False)
