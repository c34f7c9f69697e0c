"""Prometheus metrics of one process, served on a port of their own (``PENTAD_METRICS_PORT``).

Not on the public port: the gateway's public side never answers ``/metrics`` (it is no
route there), and the services, reachable only through the gateway, have none either.
Prometheus scrapes each pod's metrics port directly (deploy/README.md).

Per request the kit adds to a plain tally per (method, route template, status): a dict
lookup, a bisect over the buckets and two additions, no lock (requests and scrapes share
the event loop). prometheus_client's own Histogram costs about ten times that (a lock per
value). The tallies, and what costs a query (the outbox head), become metrics only when
Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator, Mapping
from itertools import accumulate
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("pentad.metrics")

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTBOX_EVENTS = Counter("pentad_outbox_events_written", "Events written to this service's outbox (feed), by type.",
                        ["type"])
OUTBOX_HEAD = Gauge("pentad_outbox_head_seq", "The last seq of this service's event feed (read at scrape time).")
CONSUMER_LAG = Gauge("pentad_event_consumer_lag_events",
                     "Events of another service's feed a consumer here has not handled yet, by feed.", ["feed"])
UNMATCHED = "unmatched"  # paths no route matched: one label, whatever was asked

# (method, route template, status) -> [count in each bucket..., count past the last, sum of seconds].
# Plain lists, no locks: requests and scrapes run on the same event loop thread.
_requests: dict[tuple[str, str, int], list[float]] = {}
_WIDTH = len(BUCKETS) + 2


def observe_request(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or scope.get("pentad.route") or UNMATCHED
    key = (scope["method"], template, status)
    counts = _requests.get(key)
    if counts is None:
        if len(_requests) > 5000:  # bounded: methods x templates x statuses, whatever clients send
            key = (scope["method"], UNMATCHED, status)
        counts = _requests.setdefault(key, [0.0] * _WIDTH)
    counts[bisect_left(BUCKETS, seconds)] += 1
    counts[-1] += seconds


class _Requests(Collector):
    """Turns the per-request tallies into a counter and a histogram when Prometheus scrapes."""

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        total = CounterMetricFamily("pentad_http_requests", "Requests answered, by method, route template and status.",
                                    labels=["method", "route", "status"])
        latency = HistogramMetricFamily("pentad_http_request_duration_seconds",
                                        "Time to answer a request, by method and route template.",
                                        labels=["method", "route"])
        by_route: dict[tuple[str, str], list[float]] = {}
        for (method, route, status), counts in list(_requests.items()):
            total.add_metric([method, route, str(status)], sum(counts[:-1]))
            merged = by_route.setdefault((method, route), [0.0] * _WIDTH)
            for i, n in enumerate(counts):
                merged[i] += n
        for labels, counts in by_route.items():
            cumulative = list(accumulate(counts[:-1]))
            buckets = [(str(le), cumulative[i]) for i, le in enumerate(BUCKETS)] + [("+Inf", cumulative[-1])]
            latency.add_metric(list(labels), buckets, sum_value=counts[-1])
        yield from (total, latency)


REGISTRY.register(_Requests())


async def serve(host: str, port: int, *, refresh: Callable[[], Awaitable[None]] | None = None) -> asyncio.Server:
    """A minimal HTTP server answering ``GET /metrics`` in the Prometheus text format."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.split()
            if len(parts) >= 2 and parts[0] in (b"GET", b"HEAD") and parts[1].split(b"?")[0] == b"/metrics":
                if refresh is not None:
                    try:
                        await refresh()
                    except Exception as exc:  # a scrape still answers what it has
                        log.warning("metrics.refresh_failed", error=type(exc).__name__)
                body, status, kind = generate_latest(REGISTRY), b"200 OK", CONTENT_TYPE_LATEST.encode()
            else:
                body, status, kind = b"Only GET /metrics here.\n", b"404 Not Found", b"text/plain"
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: " + kind + b"\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
                         + (body if parts[:1] != [b"HEAD"] else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port)
