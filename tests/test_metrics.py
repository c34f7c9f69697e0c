"""pentad/metrics.py: the per-request tallies, what a scrape shows, and the metrics port."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pentad import metrics
from tests.support import free_port


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path


def _samples() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(generate_latest().decode()) for s in family.samples}


def _value(name: str, **labels: str) -> float:
    return _samples().get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status_with_latency_buckets() -> None:
    route = "/metrics-test/{thing_id}"
    scope: dict[str, Any] = {"method": "PATCH", "route": _Route(route)}
    for seconds in (0.0004, 0.003, 0.003, 45.0):
        metrics.observe_request(scope, 200, seconds)
    metrics.observe_request(scope, 412, 0.02)
    assert _value("pentad_http_requests_total", method="PATCH", route=route, status="200") == 4
    assert _value("pentad_http_requests_total", method="PATCH", route=route, status="412") == 1
    bucket = "pentad_http_request_duration_seconds_bucket"
    assert _value(bucket, method="PATCH", route=route, le="0.001") == 1
    assert _value(bucket, method="PATCH", route=route, le="0.005") == 3
    assert _value(bucket, method="PATCH", route=route, le="0.025") == 4
    assert _value(bucket, method="PATCH", route=route, le="30.0") == 4
    assert _value(bucket, method="PATCH", route=route, le="+Inf") == 5
    assert _value("pentad_http_request_duration_seconds_sum", method="PATCH", route=route) == 45.0264


def test_paths_no_route_matched_share_one_label() -> None:
    before = _value("pentad_http_requests_total", method="GET", route=metrics.UNMATCHED, status="404")
    for i in range(3):
        metrics.observe_request({"method": "GET", "path": f"/nothing/{i}"}, 404, 0.001)
    assert _value("pentad_http_requests_total", method="GET", route=metrics.UNMATCHED, status="404") == before + 3
    assert not any("/nothing/" in dict(labels).get("route", "") for _, labels in _samples())


async def test_the_metrics_port_answers_get_metrics_only_and_refreshes_first() -> None:
    refreshed = []

    async def refresh() -> None:
        refreshed.append(True)
        metrics.OUTBOX_HEAD.set(41)

    port = free_port()
    server = await metrics.serve("127.0.0.1", port, refresh=refresh)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            r = await http.get("/metrics")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            assert "pentad_outbox_head_seq 41.0" in r.text and refreshed
            assert (await http.get("/")).status_code == 404
            assert (await http.post("/metrics")).status_code == 404
    finally:
        server.close()
        await server.wait_closed()
