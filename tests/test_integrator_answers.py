"""Strict inputs and truthful answers (issue 10): a code in a query filter is checked like the
same code in a body (a 422 naming it, with a suggestion when one is close); the event feeds
page like every list, with ``after=<seq>`` kept to resume from a stored position; a problem's
``instance`` is the path the caller used; a package keeps its own currency when asked another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from tests.platform import RATES, Seeded, seeded_platform


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with seeded_platform(databases, tmp_path_factory.mktemp("strict")) as seeded:
        yield seeded


async def _refused(plat: Seeded, who: str, path: str, **params: Any) -> dict[str, Any]:
    async with plat.client(who) as client:
        r = await client.get(path, params=params)
    assert r.status_code == 422, (path, params, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    (error,) = r.json()["errors"]
    return error


@pytest.mark.parametrize(("path", "param", "given", "suggestion"), [
    ("/segmentation/segments", "market", "UK", "GB"),
    ("/segmentation/segments", "market", "united kingdom", "GB"),
    ("/segmentation/segments", "language", "english", "en"),
    ("/integration/stakeholders", "country", "UK", "GB"),
    ("/integration/packages", "currency", "euro", "EUR"),
    ("/segmentation/segments", "specialty", "dental implantology", "dental_implantology"),
    ("/segmentation/segments", "specialty", "orthopedics", "orthopaedics"),
    ("/integration/stakeholders", "specialty", "orthopedics", "orthopaedics"),
    ("/integration/packages", "specialty", "orthopedics", "orthopaedics"),
])
async def test_a_code_filter_is_checked_with_a_suggestion(plat: Seeded, path: str, param: str, given: str,
                                                          suggestion: str) -> None:
    error = await _refused(plat, "facilitator_a", path, **{param: given})
    assert (error["field"], error["value"], error["suggestion"]) == (f"query.{param}", given, suggestion)
    assert repr(suggestion) in error["message"]


@pytest.mark.parametrize(("who", "path", "params", "field", "suggestion"), [
    ("facilitator_a", "/integration/coverage", {"specialty": ["orthopaedics", "orthopedics"]},
     "query.specialty.1", "orthopaedics"),
    ("staff", "/integration/capacity/weekly", {"specialty": "orthopedics", "from": "2026-12-01", "to": "2026-12-31"},
     "query.specialty.0", "orthopaedics"),
    ("staff", "/promotion/enquiries", {"source_market": "UK"}, "query.source_market", "GB"),
    ("staff", "/promotion/campaigns", {"source_market": "united kingdom"}, "query.source_market", "GB"),
    ("staff", "/promotion/attribution", {"source_market": "UK"}, "query.source_market", "GB"),
    ("staff", "/integration/packages", {"status": "publishd"}, "query.status", "published"),
    ("staff", "/administration/complaints", {"severity": "hgh"}, "query.severity", "high"),
    ("staff", "/dmo/reactions", {"kind": "segment.retird"}, "query.kind", "segment.retired"),
])
async def test_every_code_and_choice_filter_is_checked_with_a_suggestion(
        plat: Seeded, who: str, path: str, params: dict[str, Any], field: str, suggestion: str) -> None:
    error = await _refused(plat, who, path, **params)
    assert (error["field"], error["suggestion"]) == (field, suggestion), error


async def test_an_unknown_code_with_nothing_close_has_no_suggestion(plat: Seeded) -> None:
    error = await _refused(plat, "facilitator_a", "/segmentation/segments", market="ZZ")
    assert error["field"] == "query.market" and "suggestion" not in error
    error = await _refused(plat, "facilitator_a", "/integration/packages", specialty="zzzz_nothing_like_it")
    assert error["field"] == "query.specialty" and "suggestion" not in error


async def test_the_same_code_in_a_body_gets_the_same_answer(plat: Seeded) -> None:
    async with plat.client("staff") as staff:
        r = await staff.post("/integration/stakeholders", json={
            "kind": "hotel", "name": "Typo hotel", "country": "UK", "city": "Rijeka"})
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["field"], error["suggestion"]) == ("country", "GB")


async def test_a_known_code_filter_still_filters(plat: Seeded) -> None:
    async with plat.client("facilitator_a") as client:
        r = await client.get("/segmentation/segments", params={"market": "gb", "specialty": plat.specialty})
    assert r.status_code == 200
    assert plat.segment["id"] in [s["id"] for s in r.json()["items"]]


async def test_event_feeds_page_with_cursors_like_every_list(plat: Seeded) -> None:
    async with plat.client("admin") as admin:
        everything = (await admin.get("/integration/events", params={"limit": 500})).json()["items"]
        assert len(everything) >= 4
        seen, cursor = [], None
        while True:
            r = await admin.get("/integration/events", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            seen += r.json()["items"]
            if (cursor := r.json()["next_cursor"]) is None:
                break
            assert not cursor.isdigit()  # opaque, as every list's
        assert [e["seq"] for e in seen] == [e["seq"] for e in everything]

        stored = everything[1]["seq"]  # a consumer resumes from the seq it stored
        resumed = (await admin.get("/integration/events", params={"after": stored, "limit": 500})).json()["items"]
        assert [e["seq"] for e in resumed] == [e["seq"] for e in everything[2:]]


@pytest.mark.parametrize("params", [{"cursor": "3"}, {"cursor": "not-a-cursor"}, {"cursor": "MQ", "after": 1}])
async def test_a_feed_cursor_it_did_not_give_is_a_422_not_the_feed_from_its_start(
        plat: Seeded, params: dict[str, Any]) -> None:
    error = await _refused(plat, "admin", "/segmentation/events", **params)
    assert error["field"] == "query.cursor"


@pytest.mark.parametrize(("path", "who"), [
    ("/integration/nope", "staff"), ("/integration/packages/pkg_missing", "facilitator_a"),
    ("/segmentation/segments/seg_missing", "staff"), ("/administration/complaints?bogus=1", "staff")])
async def test_a_problem_names_the_path_the_caller_used(plat: Seeded, path: str, who: str) -> None:
    async with plat.client(who) as client:
        r = await client.get(path)
    assert r.status_code in (404, 422) and r.json()["instance"] == path.partition("?")[0]


async def test_a_forged_prefix_is_not_taken_from_the_caller(plat: Seeded) -> None:
    async with plat.client("staff") as client:
        r = await client.get("/integration/nope", headers={"X-Forwarded-Prefix": "/elsewhere"})
    assert r.json()["instance"] == "/integration/nope"


async def test_a_package_keeps_its_own_currency_and_gives_the_asked_one_apart(plat: Seeded) -> None:
    own = plat.package
    assert (own["currency"], own["total_in"]) == ("EUR", None)
    async with plat.client("facilitator_a") as client:
        one = (await client.get(f"/integration/packages/{own['id']}", params={"currency": "GBP"})).json()
        listed = (await client.get("/integration/packages", params={"currency": "gbp", "specialty": plat.specialty}
                                   )).json()["items"]
    assert (one["currency"], one["total"]) == ("EUR", own["total"])
    assert one["total_in"]["currency"] == "GBP" and one["fx_rates"] == RATES  # USD for a part, GBP for total_in
    gbp = Decimal(own["total"]["amount"]) * Decimal(RATES["GBP"])
    assert abs(Decimal(one["total_in"]["amount"]) - gbp) <= Decimal("0.02")
    assert [p for p in listed if p["id"] == own["id"]] == [one]
