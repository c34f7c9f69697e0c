"""The Segmentation service: the specialty vocabulary, segments and their attractiveness.

Segmentation and Integration run as real uvicorn servers in this process (attractiveness
reads FX rates and coverage from Integration over HTTP). Tests share the servers of their
module, so each one makes its own specialties and segments with unique names and only
looks at what it made (or at the events after the feed position it started from).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pillars import FAC, PROBLEM, feed, last_seq, money, service_urls, unique
from tests.support import (
    STAFF,
    SignedAs,
    asgi_client,
    build,
    facilitator,
    provider,
    settings_for,
)


async def new_specialty(seg: httpx.AsyncClient, family: str = "medical") -> str:
    code = unique("sp")
    r = await seg.post("/specialties", json={"code": code, "name": f"Specialty {code}", "family": family,
                                             "procedures": ["a procedure"]})
    assert r.status_code == 201, r.text
    return code


def segment_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": unique("segment"),
        "family": "medical",
        "specialties": ["orthopaedics"],
        "source_markets": ["gb", "IE"],
        "payer_types": ["self_pay", "insurer"],
        "motivation": "have_to",
        "price_band": {"min": money("8000"), "max": money("15000.50")},
        "languages": ["EN", "de"],
        "demand": {"annual_patients": 1200, "avg_spend": money("9500.00"), "growth_rate": "0.08"},
        "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 20},
    }
    body.update(changes)
    return body


async def create_segment(seg: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    r = await seg.post("/segments", json=segment_body(**changes))
    assert r.status_code == 201, r.text
    return r.json()


async def listed_ids(seg: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await seg.get("/segments", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [s["id"] for s in r.json()["items"]]


# -- the specialty vocabulary -------------------------------------------------------------------

async def test_vocabulary_is_seeded_and_filtered_by_family(seg: httpx.AsyncClient) -> None:
    r = await seg.get("/specialties", params={"limit": 500}, auth=FAC)
    assert r.status_code == 200
    by_code = {s["code"]: s for s in r.json()["items"]}
    ortho = by_code["orthopaedics"]
    assert ortho["family"] == "medical" and ortho["name"] == "Orthopaedics"
    assert "hip replacement" in ortho["procedures"] and "knee replacement" in ortho["procedures"]
    assert by_code["dental_implantology"]["family"] == "dental"
    assert len(by_code) >= 18

    dental = (await seg.get("/specialties", params={"family": "dental", "limit": 500})).json()["items"]
    assert {s["family"] for s in dental} == {"dental"}
    assert {"dental_implantology", "cosmetic_dentistry"} <= {s["code"] for s in dental}
    assert "orthopaedics" not in {s["code"] for s in dental}

    r = await seg.get("/specialties", params={"family": "veterinary"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.family"


async def test_staff_extend_the_vocabulary_with_an_event(seg: httpx.AsyncClient) -> None:
    start = await last_seq(seg)
    code = unique("sp")
    body = {"code": code, "name": "Hair restoration", "family": "medical", "procedures": ["FUE", "FUT"]}
    r = await seg.post("/specialties", json=body)
    assert r.status_code == 201 and r.json() == body
    medical = await seg.get("/specialties", params={"family": "medical", "limit": 500})
    listed = {s["code"]: s for s in medical.json()["items"]}
    assert listed[code] == body

    duplicate = await seg.post("/specialties", json={**body, "name": "Again"})
    assert duplicate.status_code == 409 and duplicate.headers["content-type"] == PROBLEM
    assert code in duplicate.json()["detail"]
    for caller in (facilitator("stk_f"), provider("stk_p")):
        r = await seg.post("/specialties", json={**body, "code": unique("sp")}, auth=SignedAs(caller))
        assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
    r = await seg.post("/specialties", json={**body, "code": "Not A Code"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"

    events = await feed(seg, start)
    assert [(e["type"], e["subject"], e["data"]) for e in events] == [
        ("specialty.created", code, {"code": code, "family": "medical"})]
    stored = {s["code"]: s for s in (await seg.get("/specialties", params={"limit": 500})).json()["items"]}
    assert stored[code]["name"] == "Hair restoration"


# -- creating segments --------------------------------------------------------------------------

async def test_create_segment_with_the_full_body(seg: httpx.AsyncClient) -> None:
    start = await last_seq(seg)
    body = segment_body()
    r = await seg.post("/segments", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"/segments/{created['id']}"
    assert created["id"].startswith("seg")
    assert created["status"] == "active"
    assert created["source_markets"] == ["GB", "IE"]
    assert created["languages"] == ["en", "de"]
    assert created["price_band"] == {"min": money("8000.00"), "max": money("15000.50")}
    assert created["demand"] == {"annual_patients": 1200, "avg_spend": money("9500.00"), "growth_rate": "0.08"}
    assert created["threshold"] == body["threshold"]
    for field in ("name", "family", "specialties", "payer_types", "motivation"):
        assert created[field] == body[field]
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")

    got = await seg.get(f"/segments/{created['id']}", auth=FAC)
    assert got.status_code == 200 and got.json() == created and got.headers["etag"] == '"1"'

    (event,) = await feed(seg, start)
    assert event["type"] == "segment.created" and event["subject"] == created["id"]
    assert event["data"]["segment_id"] == created["id"] and event["data"]["source_markets"] == ["GB", "IE"]


async def test_repeated_codes_are_kept_once(seg: httpx.AsyncClient) -> None:
    created = await create_segment(seg, source_markets=["GB", "gb", "DE"], languages=["en", "EN"],
                                   specialties=["orthopaedics", "orthopaedics"])
    assert created["source_markets"] == ["GB", "DE"]
    assert created["languages"] == ["en"] and created["specialties"] == ["orthopaedics"]


async def test_a_retried_create_returns_the_first_segment(seg: httpx.AsyncClient) -> None:
    start = await last_seq(seg)
    key = {"Idempotency-Key": unique("create")}
    body = segment_body()
    first = await seg.post("/segments", json=body, headers=key)
    again = await seg.post("/segments", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"] and again.headers["etag"] == '"1"'
    other = await seg.post("/segments", json={**body, "name": "Another"}, headers=key)
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")
    assert [e["data"]["segment_id"] for e in await feed(seg, start)] == [first.json()["id"]]


def _set(path: str, value: Any) -> dict[str, Any]:
    body = segment_body()
    *parents, leaf = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return body


_DELETE = object()

INVALID_SEGMENTS = {
    "unknown country": ("source_markets", ["GB", "XX"], "source_markets.1", "XX"),
    "unknown language": ("languages", ["en", "zz"], "languages.1", "zz"),
    "unknown currency": ("demand.avg_spend", {"amount": "100.00", "currency": "XYZ"},
                         "demand.avg_spend.currency", "XYZ"),
    "float amount": ("demand.avg_spend", {"amount": 9500.5, "currency": "EUR"},
                     "demand.avg_spend.amount", 9500.5),
    "negative amount": ("demand.avg_spend", {"amount": "-1.00", "currency": "EUR"},
                        "demand.avg_spend.amount", "-1.00"),
    "unknown specialty": ("specialties", ["orthopaedics", "no_such_specialty"], "specialties.1",
                          "no_such_specialty"),
    "min above max": ("price_band", {"min": money("9000"), "max": money("100")}, "price_band", None),
    "band in two currencies": ("price_band", {"min": money("1", "EUR"), "max": money("2", "GBP")}, "price_band",
                               None),
    "missing threshold": ("threshold", _DELETE, "threshold", None),
    "unknown family": ("family", "veterinary", "family", "veterinary"),
    "unknown payer type": ("payer_types", ["self_pay", "cash"], "payer_types.1", "cash"),
    "no specialties": ("specialties", [], "specialties", None),
    "growth out of range": ("demand.growth_rate", "11", "demand.growth_rate", "11"),
    "unknown field": ("colour", "blue", "colour", "blue"),
}


@pytest.mark.parametrize("case", INVALID_SEGMENTS.values(), ids=INVALID_SEGMENTS.keys())
async def test_invalid_segment_is_a_precise_422_and_creates_nothing(seg: httpx.AsyncClient, case: tuple) -> None:
    path, value, field, bad_value = case
    start = await last_seq(seg)
    body = _set(path, value)
    r = await seg.post("/segments", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation-error")
    errors = {e["field"]: e for e in problem["errors"]}
    assert field in errors, problem["errors"]
    if bad_value is not None:
        assert errors[field]["value"] == bad_value
    assert await feed(seg, start) == []
    r = await seg.get("/segments", params={"limit": 500, "specialty": "orthopaedics"})
    assert body["name"] not in {s["name"] for s in r.json()["items"]}


# -- listing ------------------------------------------------------------------------------------

async def test_list_filters_as_facilitators_ask(seg: httpx.AsyncClient) -> None:
    x, y = await new_specialty(seg), await new_specialty(seg)
    a = await create_segment(seg, family="medical", specialties=[x], source_markets=["GB"],
                             payer_types=["self_pay"], languages=["en"])
    b = await create_segment(seg, family="dental", specialties=[x, y], source_markets=["DE", "AT"],
                             payer_types=["insurer"], languages=["de"])
    c = await create_segment(seg, family="medical", specialties=[y], source_markets=["GB", "DE"],
                             payer_types=["government", "self_pay"], languages=["en", "de"])
    cases = [
        ({"specialty": x}, [a, b]),
        ({"specialty": y}, [b, c]),
        ({"specialty": x, "market": "GB"}, [a]),
        ({"specialty": x, "market": "gb"}, [a]),
        ({"specialty": y, "market": "DE"}, [b, c]),
        ({"specialty": x, "family": "dental"}, [b]),
        ({"specialty": y, "family": "medical"}, [c]),
        ({"specialty": y, "payer_type": "self_pay"}, [c]),
        ({"specialty": x, "payer_type": "insurer"}, [b]),
        ({"specialty": y, "language": "DE"}, [b, c]),
        ({"specialty": x, "language": "en"}, [a]),
        ({"specialty": x, "market": "AT", "family": "dental", "payer_type": "insurer", "language": "de"}, [b]),
        ({"specialty": x, "market": "FR"}, []),
        ({"specialty": x, "family": "spa"}, []),
    ]
    for params, expected in cases:
        assert await listed_ids(seg, **params) == sorted(s["id"] for s in expected), params
    everything_at = await listed_ids(seg, market="AT")
    assert b["id"] in everything_at and a["id"] not in everything_at and c["id"] not in everything_at
    r = await seg.get("/segments", params={"specialty": x, "market": "GB"}, auth=FAC)
    assert [s["id"] for s in r.json()["items"]] == [a["id"]]
    r = await seg.get("/segments", params={"payer_type": "cash"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.payer_type"


async def test_pages_walk_every_segment_once(seg: httpx.AsyncClient) -> None:
    x = await new_specialty(seg)
    made = sorted([(await create_segment(seg, specialties=[x]))["id"] for _ in range(3)])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"specialty": x, "limit": 1, **({"cursor": cursor} if cursor else {})}
        r = await seg.get("/segments", params=params)
        assert r.status_code == 200
        page = r.json()
        assert len(page["items"]) <= 1
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    r = await seg.get("/segments", params={"specialty": x, "limit": 2})
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    for bad in ("not-a-cursor", "_w"):
        r = await seg.get("/segments", params={"cursor": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor"
    for bad_limit in (0, 501):
        r = await seg.get("/segments", params={"limit": bad_limit})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"


async def test_garbage_cursor_is_refused(seg: httpx.AsyncClient) -> None:
    r = await seg.get("/segments", params={"cursor": "!!!"})
    assert r.status_code == 422


# -- updating -----------------------------------------------------------------------------------

async def test_patch_honours_if_match(seg: httpx.AsyncClient) -> None:
    created = await create_segment(seg)
    sid = created["id"]
    start = await last_seq(seg)
    r = await seg.patch(f"/segments/{sid}", json={"name": "Renamed once"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"' and r.json()["name"] == "Renamed once"
    assert r.json()["source_markets"] == created["source_markets"]

    stale = await seg.patch(f"/segments/{sid}", json={"name": "Lost update"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    assert stale.json()["type"].endswith("/precondition-failed")
    got = await seg.get(f"/segments/{sid}")
    assert got.json()["name"] == "Renamed once" and got.headers["etag"] == '"2"'

    r = await seg.patch(f"/segments/{sid}", json={"threshold": {"min_accredited_providers": 5,
                                                               "min_weekly_capacity": 50}},
                        headers={"If-Match": got.headers["etag"]})
    assert r.status_code == 200 and r.headers["etag"] == '"3"'
    assert r.json()["threshold"] == {"min_accredited_providers": 5, "min_weekly_capacity": 50}
    r = await seg.patch(f"/segments/{sid}", json={"motivation": "want_to"})  # no If-Match: last write wins
    assert r.status_code == 200 and r.headers["etag"] == '"4"'

    events = await feed(seg, start)
    assert [(e["type"], e["data"]["changed"], e["data"]["version"]) for e in events] == [
        ("segment.updated", ["name"], 2), ("segment.updated", ["threshold"], 3),
        ("segment.updated", ["motivation"], 4)]


async def test_patching_lists_reindexes_the_filters(seg: httpx.AsyncClient) -> None:
    x, y = await new_specialty(seg), await new_specialty(seg)
    sid = (await create_segment(seg, specialties=[x], source_markets=["GB"], languages=["en"]))["id"]
    r = await seg.patch(f"/segments/{sid}", json={"specialties": [y], "source_markets": ["fr"],
                                                  "languages": ["IT"]})
    assert r.status_code == 200, r.text
    assert r.json()["specialties"] == [y] and r.json()["source_markets"] == ["FR"]
    assert r.json()["languages"] == ["it"]
    assert await listed_ids(seg, specialty=x) == []
    assert await listed_ids(seg, specialty=y) == [sid]
    assert await listed_ids(seg, specialty=y, market="FR", language="it") == [sid]
    assert await listed_ids(seg, specialty=y, market="GB") == []
    assert await listed_ids(seg, specialty=y, language="en") == []

    # Overlapping lists: the tags kept, added and dropped in one change.
    r = await seg.patch(f"/segments/{sid}", json={"specialties": [x, y], "source_markets": ["FR", "GB"]})
    assert r.status_code == 200, r.text
    assert await listed_ids(seg, specialty=x, market="GB") == [sid]
    assert await listed_ids(seg, specialty=y, market="FR") == [sid]

    before = (await seg.get(f"/segments/{sid}")).json()
    r = await seg.patch(f"/segments/{sid}", json={"specialties": [x, "no_such_specialty"]})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "specialties.1", "message": r.json()["errors"][0]["message"], "value": "no_such_specialty"}]
    assert (await seg.get(f"/segments/{sid}")).json() == before


async def test_null_for_a_required_field_is_422(seg: httpx.AsyncClient) -> None:
    created = await create_segment(seg)
    sid = created["id"]
    for field in ("name", "specialties", "threshold", "status", "source_markets"):
        r = await seg.patch(f"/segments/{sid}", json={field: None})
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["field"] == field
    got = await seg.get(f"/segments/{sid}")
    assert got.json() == created and got.headers["etag"] == '"1"'
    # The optional parts may be cleared.
    r = await seg.patch(f"/segments/{sid}", json={"demand": None, "price_band": None})
    assert r.status_code == 200 and r.json()["demand"] is None and r.json()["price_band"] is None


async def test_null_for_a_required_field_names_the_field(seg: httpx.AsyncClient) -> None:
    sid = (await create_segment(seg))["id"]
    r = await seg.patch(f"/segments/{sid}", json={"name": None})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["name"]


async def test_retired_segments_leave_the_default_list(seg: httpx.AsyncClient) -> None:
    x = await new_specialty(seg)
    kept = (await create_segment(seg, specialties=[x]))["id"]
    sid = (await create_segment(seg, specialties=[x]))["id"]
    start = await last_seq(seg)
    r = await seg.patch(f"/segments/{sid}", json={"status": "retired"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["status"] == "retired"
    assert await listed_ids(seg, specialty=x) == [kept]
    assert await listed_ids(seg, specialty=x, status="retired") == [sid]
    assert (await seg.get(f"/segments/{sid}", auth=FAC)).json()["status"] == "retired"
    (event,) = await feed(seg, start)
    assert event["type"] == "segment.retired" and event["data"]["segment_id"] == sid
    assert event["data"]["status"] == "retired" and event["data"]["changed"] == ["status"]

    r = await seg.patch(f"/segments/{sid}", json={"status": "active"})
    assert r.status_code == 200
    assert await listed_ids(seg, specialty=x) == sorted([kept, sid])
    assert [e["type"] for e in await feed(seg, start)] == ["segment.retired", "segment.updated"]


async def test_only_staff_write_segments(seg: httpx.AsyncClient) -> None:
    created = await create_segment(seg)
    sid = created["id"]
    start = await last_seq(seg)
    for caller in (provider("stk_p"), facilitator("stk_f")):
        auth = SignedAs(caller)
        assert (await seg.get(f"/segments/{sid}", auth=auth)).status_code == 200
        assert (await seg.get("/segments", auth=auth)).status_code == 200
        r = await seg.post("/segments", json=segment_body(), auth=auth)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        r = await seg.patch(f"/segments/{sid}", json={"name": "hijacked"}, auth=auth)
        assert r.status_code == 403
        assert (await seg.get("/events", auth=auth)).status_code == 403
    assert (await seg.get(f"/segments/{sid}")).json() == created
    assert await feed(seg, start) == []


async def test_unknown_segment_is_404(seg: httpx.AsyncClient) -> None:
    for r in (await seg.get("/segments/seg_nope"), await seg.patch("/segments/seg_nope", json={"name": "x"}),
              await seg.get("/segments/seg_nope/attractiveness")):
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


async def test_segment_events_come_in_order(seg: httpx.AsyncClient) -> None:
    start = await last_seq(seg)
    sid = (await create_segment(seg))["id"]
    await seg.patch(f"/segments/{sid}", json={"languages": ["fr"]})
    await seg.patch(f"/segments/{sid}", json={"status": "retired"})
    events = await feed(seg, start)
    assert [e["type"] for e in events] == ["segment.created", "segment.updated", "segment.retired"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {e["data"]["segment_id"] for e in events} == {e["subject"] for e in events} == {sid}
    assert [e["data"]["version"] for e in events] == [1, 2, 3]
    assert all(e["specversion"] == "1.0" and e["source"] == "/pentad/segmentation" for e in events)


# -- attractiveness -----------------------------------------------------------------------------

async def register_provider(integ: httpx.AsyncClient, specialties: list[str], kind: str = "hospital") -> str:
    r = await integ.post("/stakeholders", json={"kind": kind, "name": unique("Provider"), "country": "HR",
                                                "city": "Zagreb", "languages": ["hr", "en"],
                                                "specialties": specialties})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def by_name(attractiveness: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in attractiveness["components"]}


def assert_consistent(result: dict[str, Any]) -> None:
    components = result["components"]
    assert [c["name"] for c in components] == ["size", "value", "growth", "fit"]
    assert math.isclose(sum(c["weight"] for c in components), 1.0)
    for c in components:
        assert c["contribution"] == round((c["normalised"] or 0.0) * c["weight"], 4)
        assert c["explanation"]
    assert result["score"] == round(sum(c["contribution"] for c in components), 4)
    assert 0 <= result["score"] <= 1
    assert result["complete"] == all(c["normalised"] is not None for c in components)


async def test_attractiveness_shows_every_component(seg: httpx.AsyncClient, integ: httpx.AsyncClient) -> None:
    served, unserved = await new_specialty(seg), await new_specialty(seg)
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.8563", "USD": "1.0812"}})
    assert r.status_code == 200, r.text
    stakeholder = await register_provider(integ, [served])
    await register_provider(integ, [unserved])  # offers it, but has no capacity
    today = datetime.now(UTC).date().isoformat()
    r = await integ.post(f"/stakeholders/{stakeholder}/capacity", auth=SignedAs(provider(stakeholder)),
                         json={"rows": [{"specialty": served, "date": today, "slots_total": 10,
                                         "slots_available": 4}]})
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    sid = (await create_segment(seg, specialties=[served, unserved], demand={
        "annual_patients": 5000, "avg_spend": money("3000.00", "GBP"), "growth_rate": "0.08"}))["id"]

    r = await seg.get(f"/segments/{sid}/attractiveness", auth=FAC)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["segment_id"] == sid and result["complete"] is True and result["method"]
    assert_consistent(result)
    c = by_name(result)
    assert c["fit"]["raw"] == "1/2" and c["fit"]["normalised"] == 0.5
    assert unserved in c["fit"]["explanation"] and served not in c["fit"]["explanation"]
    eur = Decimal("3000.00") / Decimal("0.8563")
    assert c["value"]["raw"] == f"{eur.quantize(Decimal('0.01'))} EUR" == "3503.45 EUR"
    assert c["value"]["normalised"] == round(float(eur / 15000), 4)
    assert c["size"]["raw"] == "5000"
    assert c["size"]["normalised"] == round(math.log10(5001) / math.log10(100_001), 4)
    assert c["growth"]["raw"] == "0.08" and c["growth"]["normalised"] == 0.52
    assert {n: x["weight"] for n, x in c.items()} == {"size": 0.25, "value": 0.25, "growth": 0.2, "fit": 0.3}

    # Both specialties served now: fit goes to 1 and the score rises by exactly 0.15.
    other = await register_provider(integ, [unserved], kind="clinic")
    r = await integ.post(f"/stakeholders/{other}/capacity", json={"rows": [
        {"specialty": unserved, "date": today, "slots_total": 3, "slots_available": 1}]})
    assert r.json()["inserted"] == 1
    again = (await seg.get(f"/segments/{sid}/attractiveness")).json()
    assert by_name(again)["fit"] | {"explanation": ""} == {
        "name": "fit", "raw": "2/2", "normalised": 1.0, "weight": 0.3, "contribution": 0.3, "explanation": ""}
    assert math.isclose(again["score"], result["score"] + 0.15, abs_tol=1e-4)


async def test_attractiveness_without_demand_is_incomplete(seg: httpx.AsyncClient) -> None:
    sid = (await create_segment(seg, specialties=[await new_specialty(seg)], demand=None))["id"]
    result = (await seg.get(f"/segments/{sid}/attractiveness")).json()
    assert result["complete"] is False
    assert_consistent(result)
    c = by_name(result)
    for name in ("size", "value", "growth"):
        assert c[name]["raw"] is None and c[name]["normalised"] is None and c[name]["contribution"] == 0
    assert c["fit"]["raw"] == "0/1" and c["fit"]["normalised"] == 0.0
    assert result["score"] == 0


async def test_attractiveness_without_an_fx_rate_counts_value_zero(seg: httpx.AsyncClient,
                                                                   integ: httpx.AsyncClient) -> None:
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08"}})).status_code == 200
    sid = (await create_segment(seg, demand={"annual_patients": 100_000, "avg_spend": money("500000", "JPY"),
                                             "growth_rate": "0.30"}))["id"]
    result = (await seg.get(f"/segments/{sid}/attractiveness")).json()
    c = by_name(result)
    assert c["value"]["normalised"] is None and c["value"]["raw"] == "500000.00 JPY"
    assert "JPY" in c["value"]["explanation"]
    assert c["size"]["normalised"] == 1.0 and c["growth"]["normalised"] == 1.0
    assert result["complete"] is False
    assert_consistent(result)


async def test_attractiveness_is_503_when_integration_is_down(databases, tmp: Path) -> None:
    urls = service_urls()  # nothing listens on the integration port
    settings = settings_for("segmentation", await databases.new("segmentation"), tmp, service_urls=urls)
    async with asgi_client(build("segmentation", settings), STAFF) as seg:
        sid = (await create_segment(seg))["id"]
        r = await seg.get(f"/segments/{sid}/attractiveness")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/upstream-unavailable") and "integration" in r.json()["detail"]
        assert "Traceback" not in r.text
        assert (await seg.get(f"/segments/{sid}")).status_code == 200


async def test_the_vocabulary_pages_like_every_list(seg: httpx.AsyncClient) -> None:
    walked, cursor = [], None
    while True:
        page = (await seg.get("/specialties", params={"limit": 5, **({"cursor": cursor} if cursor else {})})).json()
        assert len(page["items"]) <= 5
        walked += [s["code"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = [s["code"] for s in (await seg.get("/specialties", params={"limit": 500})).json()["items"]]
    assert walked == everything == sorted(everything) and len(walked) >= 18


async def test_concurrent_patches_queue_instead_of_failing(seg: httpx.AsyncClient) -> None:
    import asyncio

    created = (await seg.post("/segments", json=segment_body())).json()
    answers = await asyncio.gather(*(seg.patch(f"/segments/{created['id']}", json={"name": f"renamed {i}"})
                                     for i in range(12)))
    assert {a.status_code for a in answers} == {200}, {a.status_code: a.text for a in answers}
    final = (await seg.get(f"/segments/{created['id']}")).json()
    assert final["name"].startswith("renamed ")
    assert sorted(a.headers["etag"] for a in answers) == sorted(f'"{v}"' for v in range(2, 14))


@pytest.mark.parametrize(("path", "params", "unknown"), [
    ("/segments", {"market": "GB", "markets": "DE"}, "markets"),
    ("/segments", {"speciality": "orthopaedics"}, "speciality"),
    ("/specialties", {"familly": "dental"}, "familly"),
    ("/segments/seg_any/attractiveness", {"currency": "GBP"}, "currency"),
])
async def test_an_unknown_query_parameter_is_a_422_naming_it(seg: httpx.AsyncClient, path: str,
                                                            params: dict[str, str], unknown: str) -> None:
    r = await seg.get(path, params=params)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert [(e["field"], e["value"]) for e in r.json()["errors"]] == [(f"query.{unknown}", params[unknown])]


@pytest.mark.parametrize("cursor", ["AA", "!!!", "", "%00"])
async def test_cursors_that_were_never_given_out_are_422(seg: httpx.AsyncClient, cursor: str) -> None:
    r = await seg.get("/segments", params={"cursor": cursor})
    if cursor == "":
        assert r.status_code == 200  # an empty cursor is no cursor
    else:
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor", r.text


async def test_nul_characters_in_json_are_422_and_change_nothing(seg: httpx.AsyncClient) -> None:
    start = await last_seq(seg)
    r = await seg.post("/segments", json=segment_body(name="Dental\u0000 implants"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert await feed(seg, start) == []
