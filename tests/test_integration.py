"""The Integration service: the stakeholder register, capacity, coverage, packages and FX.

Integration checks specialty codes against Segmentation's vocabulary over HTTP, so both
run as real uvicorn servers in this process. Tests share the servers of their module:
each makes its own stakeholders (unique names, often a specialty of its own) and only
looks at what it made, or at the events after the feed position it started from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pentad.db import create_engine
from services.integration.models import Capacity
from tests.pillars import FAC, PROBLEM, Pair, feed, last_seq, money, service_urls, start_pair, unique
from tests.support import STAFF, SignedAs, asgi_client, build, facilitator, provider, serving, settings_for

# -- helpers ------------------------------------------------------------------------------------

@pytest.fixture
async def own_integ(databases, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Integration on databases of this test alone: for the one FX table, which tests would share."""
    async with AsyncExitStack() as stack:
        own = await start_pair(stack, databases, tmp)
        async with own.client("integration") as c:
            yield c


def as_(stakeholder_id: str) -> SignedAs:
    return SignedAs(provider(stakeholder_id))


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def new_specialty(seg: httpx.AsyncClient) -> str:
    code = unique("sp")
    r = await seg.post("/specialties", json={"code": code, "name": code, "family": "medical"})
    assert r.status_code == 201, r.text
    return code


def stakeholder_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "hospital", "name": unique("Hospital"), "country": "HR", "city": "Zagreb",
                            "languages": ["hr", "en"], "specialties": ["orthopaedics", "cardiology"]}
    body.update(changes)
    return body


async def register(integ: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    r = await integ.post("/stakeholders", json=stakeholder_body(**changes))
    assert r.status_code == 201, r.text
    return r.json()


async def post_capacity(integ: httpx.AsyncClient, stakeholder_id: str, rows: list[Any],
                        **kw: Any) -> httpx.Response:
    return await integ.post(f"/stakeholders/{stakeholder_id}/capacity", json={"rows": rows}, **kw)


def row(specialty: str, when: str, total: Any = 10, available: Any = 5) -> dict[str, Any]:
    return {"specialty": specialty, "date": when, "slots_total": total, "slots_available": available}


async def capacity_of(integ: httpx.AsyncClient, stakeholder_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await integ.get(f"/stakeholders/{stakeholder_id}/capacity", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def listed(integ: httpx.AsyncClient, path: str, auth: SignedAs | None = None, **params: Any) -> list[str]:
    r = await integ.get(path, params={"limit": 500, **params}, **({"auth": auth} if auth else {}))
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def coverage(integ: httpx.AsyncClient, *specialties: str) -> dict[str, dict[str, Any]]:
    r = await integ.get("/coverage", params=[("specialty", s) for s in specialties])
    assert r.status_code == 200, r.text
    return {c["specialty"]: c for c in r.json()["items"]}


# -- the stakeholder register -------------------------------------------------------------------

async def test_register_a_stakeholder(integ: httpx.AsyncClient) -> None:
    start = await last_seq(integ)
    body = stakeholder_body(country="hr", languages=["HR", "en", "hr"])
    r = await integ.post("/stakeholders", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/stakeholders/{created['id']}"
    assert created["id"].startswith("stk")
    assert created["country"] == "HR" and created["languages"] == ["hr", "en"]
    assert created["specialties"] == ["orthopaedics", "cardiology"] and created["status"] == "active"
    assert created["kind"] == "hospital" and created["name"] == body["name"]
    got = await integ.get(f"/stakeholders/{created['id']}")
    assert got.json() == created and got.headers["etag"] == '"1"'
    (event,) = await feed(integ, start)
    assert event["type"] == "stakeholder.registered" and event["subject"] == created["id"]
    assert event["data"]["stakeholder_id"] == created["id"] and event["data"]["kind"] == "hospital"


@pytest.mark.parametrize("kind", ["hospital", "clinic", "dental", "rehab", "wellness", "hotel", "transfer",
                                  "facilitator", "insurer"])
async def test_every_kind_registers(integ: httpx.AsyncClient, kind: str) -> None:
    created = await register(integ, kind=kind, specialties=[])
    assert created["kind"] == kind


INVALID_STAKEHOLDERS = {
    "unknown country": ({"country": "XX"}, "country", "XX"),
    "unknown language": ({"languages": ["en", "zz"]}, "languages.1", "zz"),
    "unknown specialty": ({"specialties": ["orthopaedics", "no_such_specialty"]}, "specialties.1",
                          "no_such_specialty"),
    "malformed specialty": ({"specialties": ["Not A Code"]}, "specialties.0", "Not A Code"),
    "unknown kind": ({"kind": "spaceport"}, "kind", "spaceport"),
    "unknown status": ({"status": "dormant"}, "status", "dormant"),
    "empty name": ({"name": ""}, "name", ""),
    "unknown field": ({"rating": 5}, "rating", 5),
}


@pytest.mark.parametrize("case", INVALID_STAKEHOLDERS.values(), ids=INVALID_STAKEHOLDERS.keys())
async def test_invalid_stakeholder_is_a_precise_422(integ: httpx.AsyncClient, case: tuple) -> None:
    changes, field, value = case
    start = await last_seq(integ)
    body = stakeholder_body(**changes)
    r = await integ.post("/stakeholders", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert field in errors and errors[field].get("value") == value, r.json()
    assert await feed(integ, start) == []


async def test_missing_fields_are_named(integ: httpx.AsyncClient) -> None:
    r = await integ.post("/stakeholders", json={"kind": "clinic", "name": "No place"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"country", "city"}


async def test_a_specialty_added_to_the_vocabulary_is_known_at_once(integ: httpx.AsyncClient,
                                                                    seg: httpx.AsyncClient) -> None:
    await register(integ)  # the vocabulary is cached now
    code = await new_specialty(seg)
    created = await register(integ, specialties=[code])
    assert created["specialties"] == [code]


async def test_register_filters(integ: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    x = await new_specialty(seg)
    h = (await register(integ, kind="hospital", country="HR", city="Split", specialties=[x]))["id"]
    c = (await register(integ, kind="clinic", country="SI", city="Ljubljana", specialties=[x]))["id"]
    t = (await register(integ, kind="hotel", country="HR", city="Split", specialties=[x]))["id"]
    i = (await register(integ, kind="hospital", country="HR", city="Zagreb", specialties=[x],
                        status="inactive"))["id"]
    cases = [
        ({"specialty": x}, [h, c, t, i]),
        ({"specialty": x, "kind": "clinic"}, [c]),
        ({"specialty": x, "country": "hr"}, [h, t, i]),
        ({"specialty": x, "city": "Split"}, [h, t]),
        ({"specialty": x, "status": "inactive"}, [i]),
        ({"specialty": x, "kind": "hospital", "status": "active"}, [h]),
        ({"specialty": x, "country": "AT"}, []),
    ]
    for params, expected in cases:
        assert await listed(integ, "/stakeholders", **params) == sorted(expected), params
    assert await listed(integ, "/stakeholders", auth=FAC, specialty=x) == sorted([h, c, t])
    assert await listed(integ, "/stakeholders", auth=FAC, specialty=x, status="inactive") == sorted([h, c, t])
    assert await listed(integ, "/stakeholders", auth=as_(h), specialty=x) == [h]
    assert await listed(integ, "/stakeholders", auth=as_(h)) == [h]
    assert await listed(integ, "/stakeholders", auth=as_(h), kind="clinic") == []
    r = await integ.get("/stakeholders", params={"kind": "spaceport"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.kind"
    # Pages walk the register without repeats.
    seen, cursor = [], None
    while True:
        r = await integ.get("/stakeholders", params={"specialty": x, "limit": 3,
                                                     **({"cursor": cursor} if cursor else {})})
        seen += [s["id"] for s in r.json()["items"]]
        if (cursor := r.json()["next_cursor"]) is None:
            break
    assert seen == sorted([h, c, t, i])


async def test_a_provider_sees_and_changes_only_itself(integ: httpx.AsyncClient) -> None:
    a, b = await register(integ), await register(integ)
    start = await last_seq(integ)
    me = as_(a["id"])
    assert (await integ.get(f"/stakeholders/{a['id']}", auth=me)).json() == a
    r = await integ.get(f"/stakeholders/{b['id']}", auth=me)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = await integ.patch(f"/stakeholders/{b['id']}", json={"name": "Taken over"}, auth=me)
    assert r.status_code == 403
    assert (await integ.patch("/stakeholders/stk_does_not_exist", json={"name": "x"}, auth=me)).status_code == 403
    assert (await integ.get(f"/stakeholders/{b['id']}")).json() == b

    r = await integ.patch(f"/stakeholders/{a['id']}", auth=me, headers={"If-Match": '"1"'},
                          json={"languages": ["DE", "en"], "specialties": ["cardiology", "oncology"],
                                "city": "Rijeka"})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    mine = r.json()
    assert mine["languages"] == ["de", "en"] and mine["specialties"] == ["cardiology", "oncology"]
    assert mine["city"] == "Rijeka"
    for forbidden in ({"status": "inactive"}, {"kind": "hotel"}, {"country": "SI"},
                      {"languages": ["fr"], "status": "inactive"}):
        r = await integ.patch(f"/stakeholders/{a['id']}", json=forbidden, auth=me)
        assert r.status_code == 403, forbidden
        assert "staff" in r.json()["detail"]
    assert (await integ.get(f"/stakeholders/{a['id']}")).json() == mine

    events = await feed(integ, start)
    assert [(e["type"], e["subject"], e["data"]["changed"]) for e in events] == [
        ("stakeholder.updated", a["id"], ["city", "languages", "specialties"])]
    assert events[0]["data"]["specialties"] == ["cardiology", "oncology"]


async def test_a_facilitator_reads_the_active_register_only(integ: httpx.AsyncClient) -> None:
    active = await register(integ)
    inactive = await register(integ, status="inactive")
    assert (await integ.get(f"/stakeholders/{active['id']}", auth=FAC)).json() == active
    r = await integ.get(f"/stakeholders/{inactive['id']}", auth=FAC)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert (await integ.get(f"/stakeholders/{inactive['id']}")).status_code == 200
    r = await integ.patch(f"/stakeholders/{active['id']}", json={"name": "x"}, auth=FAC)
    assert r.status_code == 403
    assert (await integ.post("/stakeholders", json=stakeholder_body(), auth=FAC)).status_code == 403
    assert (await integ.get(f"/stakeholders/{active['id']}/capacity", auth=FAC)).status_code == 403
    assert (await post_capacity(integ, active["id"], [row("orthopaedics", day(1))], auth=FAC)).status_code == 403
    assert (await integ.get("/events", auth=FAC)).status_code == 403


async def test_staff_changes_honour_if_match(integ: httpx.AsyncClient) -> None:
    city = unique("City")
    created = await register(integ, city=city)
    sid = created["id"]
    r = await integ.patch(f"/stakeholders/{sid}", json={"name": "Renamed", "specialties": ["cardiology", "oncology"]},
                          headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    r = await integ.patch(f"/stakeholders/{sid}", json={"name": "Lost"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["type"].endswith("/precondition-failed")
    r = await integ.patch(f"/stakeholders/{sid}", json={"specialties": ["oncology", "no_such_specialty"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "specialties.1"
    assert r.json()["errors"][0]["value"] == "no_such_specialty"
    for field in ("name", "kind", "status", "specialties"):
        r = await integ.patch(f"/stakeholders/{sid}", json={field: None})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, field
    got = await integ.get(f"/stakeholders/{sid}")
    assert got.headers["etag"] == '"2"' and got.json()["name"] == "Renamed"
    assert got.json()["specialties"] == ["cardiology", "oncology"]
    assert await listed(integ, "/stakeholders", specialty="orthopaedics", city=city) == []
    assert await listed(integ, "/stakeholders", specialty="oncology", city=city) == [sid]
    r = await integ.patch(f"/stakeholders/{sid}", json={"status": "inactive", "kind": "clinic"})
    assert r.status_code == 200 and r.json()["status"] == "inactive" and r.json()["kind"] == "clinic"


# -- tenant isolation ---------------------------------------------------------------------------

async def test_a_provider_cannot_write_or_read_for_another(integ: httpx.AsyncClient) -> None:
    a, b = (await register(integ))["id"], (await register(integ))["id"]
    r = await post_capacity(integ, b, [row("orthopaedics", day(1), 10, 5)])
    assert r.json()["inserted"] == 1
    before = await capacity_of(integ, b)
    b_record = (await integ.get(f"/stakeholders/{b}")).json()
    start = await last_seq(integ)
    me = as_(a)

    r = await post_capacity(integ, b, [row("orthopaedics", day(1), 99, 99), row("cardiology", day(2))], auth=me)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = await post_capacity(integ, b, [row("orthopaedics", day(1), 99, 99)], auth=me,
                            headers={"Idempotency-Key": unique("k")})
    assert r.status_code == 403
    assert (await integ.get(f"/stakeholders/{b}/capacity", auth=me)).status_code == 403
    assert (await integ.patch(f"/stakeholders/{b}", json={"city": "Elsewhere"}, auth=me)).status_code == 403
    assert (await integ.post("/stakeholders", json=stakeholder_body(), auth=me)).status_code == 403
    package = {"name": "Mine", "specialty": "orthopaedics", "components": [
        {"kind": "treatment", "stakeholder_id": a, "description": "hip", "price": money("100")}]}
    assert (await integ.post("/packages", json=package, auth=me)).status_code == 403
    assert (await integ.patch("/packages/pkg_any", json={"name": "x"}, auth=me)).status_code == 403
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {}}, auth=me)).status_code == 403
    assert (await integ.get("/fx-rates", auth=me)).status_code == 403
    assert (await integ.get("/events", auth=me)).status_code == 403

    assert await capacity_of(integ, b) == before
    assert (await integ.get(f"/stakeholders/{b}")).json() == b_record
    assert await feed(integ, start) == []
    # Its own capacity it may write and read.
    r = await post_capacity(integ, a, [row("orthopaedics", day(1))], auth=me)
    assert r.status_code == 200 and r.json()["inserted"] == 1
    assert len((await integ.get(f"/stakeholders/{a}/capacity", auth=me)).json()["items"]) == 1


# -- capacity -----------------------------------------------------------------------------------

async def test_a_mixed_batch_applies_good_rows_and_reports_bad_ones(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]  # offers orthopaedics and cardiology
    start = await last_seq(integ)
    rows = [
        row("orthopaedics", day(1), 10, 4),            # 0 good
        row("no_such_specialty", day(1)),               # 1
        row("oncology", day(1)),                        # 2 known, not offered
        row("orthopaedics", day(2), -1, 0),             # 3
        row("orthopaedics", day(3), 3, 4),              # 4
        row("orthopaedics", day(731)),                  # 5 beyond the horizon
        row("orthopaedics", day(-30)),                  # 6 long past
        row("orthopaedics", "2030/01/01"),              # 7
        row("orthopaedics", "2030-1-1"),                # 8
        row("orthopaedics", day(1), 1, 1),              # 9 duplicate of 0
        {"specialty": "orthopaedics", "date": day(4), "slots_total": 5},  # 10
        row("orthopaedics", day(5), "5", 1),            # 11
        row("cardiology", day(2), 8, 8),                # 12 good
        {**row("cardiology", day(3)), "price": 1},      # 13
        row("cardiology", day(4), 5.0, 1),              # 14
        row("cardiology", day(730), 2, 0),              # 15 good: the last day of the horizon
        row("cardiology", day(-1), 1, 1),               # 16 good: yesterday (time zones)
        row("orthopaedics", day(6), 2, None),           # 17
        row(5, day(6)),                                 # 18
        row("orthopaedics", 20300101),                  # 19
        row("orthopaedics", day(7), True, 0),           # 20
        row("orthopaedics", day(8), 0, 0),              # 21 good: a full day
    ]
    r = await post_capacity(integ, sid, rows)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["inserted"] == 5 and result["updated"] == 0
    reasons = {x["index"]: x["reason"] for x in result["rejected"]}
    expected = {
        1: "unknown specialty 'no_such_specialty'", 2: "does not offer 'oncology'", 3: "negative",
        4: "exceeds slots_total", 5: "date out of range", 6: "date out of range", 7: "YYYY-MM-DD",
        8: "YYYY-MM-DD", 9: "duplicate of row 0", 10: "missing slots_available", 11: "whole numbers",
        13: "unexpected price", 14: "whole numbers", 17: "whole numbers", 18: "unknown specialty",
        19: "YYYY-MM-DD", 20: "whole numbers",
    }
    assert sorted(reasons) == sorted(expected)
    for index, fragment in expected.items():
        assert fragment in reasons[index], (index, reasons[index])
    assert [x["index"] for x in result["rejected"]] == sorted(expected)

    stored = await capacity_of(integ, sid)
    assert [(c["specialty"], c["date"], c["slots_total"], c["slots_available"], c["stale"]) for c in stored] == [
        ("cardiology", day(-1), 1, 1, False), ("orthopaedics", day(1), 10, 4, False),
        ("cardiology", day(2), 8, 8, False), ("orthopaedics", day(8), 0, 0, False),
        ("cardiology", day(730), 2, 0, False)]
    (event,) = await feed(integ, start)
    assert event["type"] == "capacity.updated" and event["subject"] == sid
    assert event["data"] == {"stakeholder_id": sid, "specialties": ["cardiology", "orthopaedics"],
                             "from": day(-1), "to": day(730), "inserted": 5, "updated": 0, "rejected": 17}


async def test_reposting_updates_and_reconfirms(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1), 10, 5), row("cardiology", day(1), 4, 4)])
    assert r.json() == {"inserted": 2, "updated": 0, "rejected": []}
    first = {(c["specialty"], c["date"]): c for c in await capacity_of(integ, sid)}
    start = await last_seq(integ)
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1), 12, 0), row("orthopaedics", day(2), 3, 3)],
                            auth=as_(sid))
    assert r.json() == {"inserted": 1, "updated": 1, "rejected": []}
    now = {(c["specialty"], c["date"]): c for c in await capacity_of(integ, sid)}
    assert len(now) == 3
    updated = now[("orthopaedics", day(1))]
    assert (updated["slots_total"], updated["slots_available"]) == (12, 0)
    assert datetime.fromisoformat(updated["confirmed_at"]) > datetime.fromisoformat(
        first[("orthopaedics", day(1))]["confirmed_at"])
    assert now[("cardiology", day(1))] == first[("cardiology", day(1))]
    (event,) = await feed(integ, start)
    assert event["data"]["inserted"] == 1 and event["data"]["updated"] == 1
    assert event["data"]["from"] == day(1) and event["data"]["to"] == day(2)
    assert event["data"]["specialties"] == ["orthopaedics"]


async def test_a_batch_of_only_bad_rows_writes_nothing(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    start = await last_seq(integ)
    r = await post_capacity(integ, sid, [row("oncology", day(1)), row("orthopaedics", day(1), 1, 2)])
    assert r.status_code == 200
    assert r.json()["inserted"] == r.json()["updated"] == 0
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    assert await capacity_of(integ, sid) == []
    assert await feed(integ, start) == []
    r = await post_capacity(integ, sid, [])
    assert r.status_code == 200 and r.json() == {"inserted": 0, "updated": 0, "rejected": []}
    r = await post_capacity(integ, "stk_does_not_exist", [row("orthopaedics", day(1))])
    assert r.status_code == 404
    r = await integ.post(f"/stakeholders/{sid}/capacity", json={"lines": []})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] in {"rows", "lines"}


SPREAD = ["orthopaedics", "cardiology", "oncology", "fertility_ivf", "bariatric", "cosmetic_plastic",
          "ophthalmology", "checkups", "rehabilitation", "dental_implantology", "cosmetic_dentistry",
          "spa_therapies", "wellness_programmes", "sports_medicine"]


async def test_batches_hold_up_to_ten_thousand_rows(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ, specialties=SPREAD))["id"]
    rows = [row(s, day(d), 3, 1) for d in range(-1, 730) for s in SPREAD][:10_000]
    start = await last_seq(integ)
    too_many = await post_capacity(integ, sid, [*rows, row("orthopaedics", day(729), 1, 1)])
    assert too_many.status_code == 422 and too_many.headers["content-type"] == PROBLEM
    assert too_many.json()["errors"][0]["field"] == "rows"
    assert await feed(integ, start) == []
    r = await integ.get(f"/stakeholders/{sid}/capacity", params={"limit": 1})
    assert r.json()["items"] == []

    r = await post_capacity(integ, sid, rows)
    assert r.status_code == 200 and r.json() == {"inserted": 10_000, "updated": 0, "rejected": []}
    (event,) = await feed(integ, start)
    assert event["data"]["inserted"] == 10_000 and event["data"]["specialties"] == sorted(SPREAD)
    r = await integ.get(f"/stakeholders/{sid}/capacity", params={"specialty": "orthopaedics", "limit": 500})
    assert len(r.json()["items"]) == 500 and r.json()["next_cursor"]


async def test_a_retried_batch_is_a_no_op(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    start = await last_seq(integ)
    key = {"Idempotency-Key": unique("batch")}
    rows = [row("orthopaedics", day(1), 10, 5), row("cardiology", day(2), 4, 2), row("oncology", day(2))]
    first = await post_capacity(integ, sid, rows, headers=key, auth=as_(sid))
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    assert first.json()["inserted"] == 2 and first.json()["rejected"][0]["index"] == 2
    stored = await capacity_of(integ, sid)

    again = await post_capacity(integ, sid, rows, headers=key, auth=as_(sid))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert await capacity_of(integ, sid) == stored  # confirmed_at untouched

    other = await post_capacity(integ, sid, [row("orthopaedics", day(1), 99, 99)], headers=key, auth=as_(sid))
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")
    assert await capacity_of(integ, sid) == stored
    assert [e["type"] for e in await feed(integ, start)] == ["capacity.updated"]
    # The same batch without the key is a new confirmation.
    r = await post_capacity(integ, sid, rows, auth=as_(sid))
    assert r.json()["updated"] == 2 and r.json()["inserted"] == 0
    assert len(await feed(integ, start)) == 2


async def test_a_row_that_is_not_an_object_is_rejected_alone(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), None, "oops", [1, 2]])
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1
    assert r.json()["rejected"] == [{"index": i, "reason": "a row must be an object"} for i in (1, 2, 3)]
    for body in (b"{not json", b'{"rows": {}}', b'{"rows": [], "extra": 1}', b"[]"):
        r = await integ.post(f"/stakeholders/{sid}/capacity", content=body,
                             headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body
    assert len(await capacity_of(integ, sid)) == 1


async def test_a_row_with_an_absurd_slot_count_is_rejected_alone(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), row("cardiology", day(1), 2**63, 1)])
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1 and [x["index"] for x in r.json()["rejected"]] == [1]


async def test_a_week_date_is_not_a_capacity_date(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    week = date.fromisoformat(day(30)).isocalendar()
    r = await post_capacity(integ, sid, [row("orthopaedics", f"{week.year}-W{week.week:02d}-{week.weekday}")])
    assert r.json()["inserted"] == 0 and r.json()["rejected"][0]["index"] == 0


async def test_capacity_keeps_flowing_while_segmentation_is_down(databases, tmp: Path) -> None:
    urls = service_urls()
    integration_db = await databases.new("integration")
    settings = settings_for("integration", integration_db, tmp, service_urls=urls)
    seg_settings = settings_for("segmentation", await databases.new("segmentation"), tmp, service_urls=urls)
    async with serving(build("segmentation", seg_settings), int(urls["segmentation"].rsplit(":", 1)[1])):
        async with asgi_client(build("integration", settings), STAFF) as integ:
            sid = (await register(integ))["id"]
    # Segmentation is gone; a fresh Integration process has no cached vocabulary.
    async with asgi_client(build("integration", settings), STAFF) as integ:
        r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), row("no_such_specialty", day(1)),
                                             row("oncology", day(1))], auth=as_(sid))
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 1
        assert [x["index"] for x in r.json()["rejected"]] == [1, 2]
        assert all("does not offer" in x["reason"] for x in r.json()["rejected"])
        assert (await integ.patch(f"/stakeholders/{sid}", json={"city": "Pula"})).status_code == 200
        r = await integ.post("/stakeholders", json=stakeholder_body())
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/upstream-unavailable") and "segmentation" in r.json()["detail"]
        r = await integ.patch(f"/stakeholders/{sid}", json={"specialties": ["oncology"]})
        assert r.status_code == 503
        assert (await integ.get(f"/stakeholders/{sid}")).json()["specialties"] == ["orthopaedics", "cardiology"]


async def test_registering_without_specialties_does_not_need_segmentation(databases, tmp: Path) -> None:
    settings = settings_for("integration", await databases.new("integration"), tmp, service_urls=service_urls())
    async with asgi_client(build("integration", settings), STAFF) as integ:
        r = await integ.post("/stakeholders", json=stakeholder_body(kind="hotel", specialties=[]))
        assert r.status_code == 201, r.text


async def test_capacity_reads_filter_and_page(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    rows = [row(s, day(d), 10 + d, d) for d in (3, 1, 2) for s in ("orthopaedics", "cardiology")]
    assert (await post_capacity(integ, sid, rows)).json()["inserted"] == 6
    everything = await capacity_of(integ, sid)
    assert [(c["date"], c["specialty"]) for c in everything] == [
        (day(d), s) for d in (1, 2, 3) for s in ("cardiology", "orthopaedics")]

    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        r = await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200 and len(r.json()["items"]) == 2
        seen += r.json()["items"]
        if (cursor := r.json()["next_cursor"]) is None:
            break
    assert seen == everything

    def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(c["date"], c["specialty"]) for c in items]

    ortho = [(day(d), "orthopaedics") for d in (1, 2, 3)]
    assert keys(await capacity_of(integ, sid, specialty="orthopaedics")) == ortho
    assert keys(await capacity_of(integ, sid, **{"from": day(2)})) == keys(everything)[2:]
    assert keys(await capacity_of(integ, sid, to=day(2))) == keys(everything)[:4]
    assert keys(await capacity_of(integ, sid, **{"from": day(2), "to": day(2)})) == keys(everything)[2:4]
    assert keys(await capacity_of(integ, sid, specialty="cardiology", **{"from": day(2)})) == [
        (day(2), "cardiology"), (day(3), "cardiology")]
    assert await capacity_of(integ, sid, specialty="oncology") == []
    page = (await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"specialty": "cardiology", "from": day(2), "limit": 1})).json()
    rest = (await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"specialty": "cardiology", "from": day(2), "limit": 1,
                                    "cursor": page["next_cursor"]})).json()
    assert keys(page["items"] + rest["items"]) == [(day(2), "cardiology"), (day(3), "cardiology")]
    assert rest["next_cursor"] is None

    for params, field in (({"cursor": "not-a-cursor"}, "query.cursor"), ({"cursor": "!!!"}, "query.cursor"),
                          ({"from": "tomorrow"}, "query.from"), ({"to": "2030-13-01"}, "query.to")):
        r = await integ.get(f"/stakeholders/{sid}/capacity", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (params, r.text)
    assert (await integ.get("/stakeholders/stk_does_not_exist/capacity")).status_code == 404


async def age_capacity(pair: Pair, stakeholder_id: str, specialty: str, days: int) -> None:
    """Simulates time passing: the rows were last confirmed ``days`` ago."""
    engine = create_engine(pair.databases["integration"])
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                sa.update(Capacity.__table__)
                .where(Capacity.stakeholder_id == stakeholder_id, Capacity.specialty == specialty)
                .values(confirmed_at=datetime.now(UTC) - timedelta(days=days)))
            assert result.rowcount > 0
    finally:
        await engine.dispose()


async def test_unconfirmed_capacity_goes_stale_and_stops_counting(pair: Pair, integ: httpx.AsyncClient,
                                                                  seg: httpx.AsyncClient) -> None:
    x, y = await new_specialty(seg), await new_specialty(seg)
    sid = (await register(integ, specialties=[x, y]))["id"]
    r = await post_capacity(integ, sid, [row(x, day(0), 5, 2), row(x, day(1), 5, 3), row(y, day(1), 4, 4)])
    assert r.json()["inserted"] == 3
    cov = await coverage(integ, x, y)
    assert cov[x]["providers_with_fresh_capacity"] == 1 and cov[x]["weekly_fresh_slots"] == 5

    await age_capacity(pair, sid, x, days=20)
    stale = {(c["specialty"], c["date"]): c["stale"] for c in await capacity_of(integ, sid)}
    assert stale == {(x, day(0)): True, (x, day(1)): True, (y, day(1)): False}
    cov = await coverage(integ, x, y)
    assert cov[x] == {"specialty": x, "providers": 1, "providers_with_fresh_capacity": 0, "weekly_fresh_slots": 0}
    assert cov[y] == {"specialty": y, "providers": 1, "providers_with_fresh_capacity": 1, "weekly_fresh_slots": 4}

    await age_capacity(pair, sid, y, days=13)  # inside the 14-day window: still fresh
    assert all(not c["stale"] for c in await capacity_of(integ, sid, specialty=y))
    assert (await coverage(integ, y))[y]["providers_with_fresh_capacity"] == 1

    r = await post_capacity(integ, sid, [row(x, day(1), 5, 1)])  # re-confirmed
    assert r.json()["updated"] == 1
    stale = {(c["specialty"], c["date"]): c["stale"] for c in await capacity_of(integ, sid, specialty=x)}
    assert stale == {(x, day(0)): True, (x, day(1)): False}
    cov = await coverage(integ, x)
    assert cov[x]["providers_with_fresh_capacity"] == 1 and cov[x]["weekly_fresh_slots"] == 1


async def test_coverage_counts_providers_and_fresh_capacity_this_week(integ: httpx.AsyncClient,
                                                                      seg: httpx.AsyncClient) -> None:
    x = await new_specialty(seg)
    a = (await register(integ, kind="hospital", specialties=[x, "orthopaedics"]))["id"]
    b = (await register(integ, kind="clinic", specialties=[x]))["id"]
    c = (await register(integ, kind="dental", specialties=[x]))["id"]
    hotel = (await register(integ, kind="hotel", specialties=[x]))["id"]
    gone = (await register(integ, kind="rehab", specialties=[x]))["id"]
    assert (await post_capacity(integ, a, [row(x, day(1), 9, 5), row(x, day(6), 2, 2), row(x, day(7), 50, 50),
                                           row(x, day(10), 100, 100)])).json()["inserted"] == 4
    assert (await post_capacity(integ, b, [row(x, day(-1), 4, 4)])).json()["inserted"] == 1
    assert (await post_capacity(integ, c, [row(x, day(1), 6, 0)])).json()["inserted"] == 1
    assert (await post_capacity(integ, hotel, [row(x, day(1), 7, 7)])).json()["inserted"] == 1
    assert (await post_capacity(integ, gone, [row(x, day(1), 9, 9)])).json()["inserted"] == 1
    assert (await integ.patch(f"/stakeholders/{gone}", json={"status": "inactive"})).status_code == 200

    r = await integ.get("/coverage", params=[("specialty", x), ("specialty", "zz_not_a_specialty")], auth=FAC)
    assert r.status_code == 200
    assert r.json()["items"] == [
        {"specialty": x, "providers": 3, "providers_with_fresh_capacity": 1, "weekly_fresh_slots": 7},
        {"specialty": "zz_not_a_specialty", "providers": 0, "providers_with_fresh_capacity": 0,
         "weekly_fresh_slots": 0}]

    # A provider that stops offering the specialty stops counting, whatever rows it left.
    r = await integ.patch(f"/stakeholders/{a}", json={"specialties": ["orthopaedics"]}, auth=as_(a))
    assert r.status_code == 200
    assert (await coverage(integ, x))[x] == {"specialty": x, "providers": 2, "providers_with_fresh_capacity": 0,
                                             "weekly_fresh_slots": 0}
    assert (await integ.patch(f"/stakeholders/{gone}", json={"status": "active"})).status_code == 200
    assert (await coverage(integ, x))[x]["providers_with_fresh_capacity"] == 1
    r = await integ.get("/coverage")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.specialty"


# -- packages -----------------------------------------------------------------------------------

RATES = {"USD": "1.0812", "GBP": "0.8563"}


def total_in(components: list[dict[str, Any]], target: str, rates: dict[str, str] = RATES) -> str:
    """The total the way the contract defines it: convert each price exactly, round once."""
    rate = {"EUR": Decimal(1), **{c: Decimal(r) for c, r in rates.items()}}
    exact = sum((Decimal(c["price"]["amount"]) / rate[c["price"]["currency"]] * rate[target] for c in components),
                Decimal(0))
    return format(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")


@dataclass
class Parties:
    hospital: dict[str, Any]
    hotel: dict[str, Any]
    transfer: dict[str, Any]


async def parties(integ: httpx.AsyncClient, **hotel: Any) -> Parties:
    return Parties(await register(integ, kind="hospital", specialties=["orthopaedics"]),
                   await register(integ, kind="hotel", name=unique("Hotel"), specialties=[], **hotel),
                   await register(integ, kind="transfer", name=unique("Transfers"), specialties=[]))


def package_body(p: Parties, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": unique("Hip package"), "specialty": "orthopaedics", "components": [
        {"kind": "treatment", "stakeholder_id": p.hospital["id"], "description": "hip replacement",
         "price": money("8450.00")},
        {"kind": "stay", "stakeholder_id": p.hotel["id"], "description": "7 nights", "price": money("1234.57", "USD")},
        {"kind": "transfer", "stakeholder_id": p.transfer["id"], "description": "airport", "price": money("95.5")},
    ]}
    body.update(changes)
    return body


async def create_package(integ: httpx.AsyncClient, p: Parties, **changes: Any) -> dict[str, Any]:
    r = await integ.post("/packages", json=package_body(p, **changes))
    assert r.status_code == 201, r.text
    return r.json()


async def put_rates(integ: httpx.AsyncClient, rates: dict[str, str] = RATES) -> None:
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": rates})
    assert r.status_code == 200, r.text


async def test_package_totals_in_its_currency_or_any_other(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    start = await last_seq(integ)
    body = package_body(p)
    r = await integ.post("/packages", json=body)
    assert r.status_code == 201, r.text
    package = r.json()
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/packages/{package['id']}"
    assert package["status"] == "published" and package["status_reason"] is None
    assert package["currency"] == "EUR" and package["fx_base"] == "EUR"
    assert package["total"] == money(total_in(body["components"], "EUR"))
    assert package["total"]["amount"] == "9687.35"
    assert package["fx_rates"] == {"USD": "1.0812"}
    assert package["components"][2]["price"] == money("95.50")

    gbp = await integ.get(f"/packages/{package['id']}", params={"currency": "gbp"}, auth=FAC)
    assert gbp.status_code == 200, gbp.text
    assert gbp.json()["currency"] == "GBP"
    assert gbp.json()["total"] == money(total_in(body["components"], "GBP"), "GBP")
    assert gbp.json()["fx_rates"] == {"GBP": "0.8563", "USD": "1.0812"}
    usd = (await integ.get(f"/packages/{package['id']}", params={"currency": "USD"})).json()
    assert usd["total"] == money(total_in(body["components"], "USD"), "USD") and usd["fx_rates"] == {"USD": "1.0812"}
    own = await integ.get(f"/packages/{package['id']}", auth=as_(p.hotel["id"]))
    assert own.status_code == 200 and own.json()["total"] == package["total"] and own.headers["etag"] == '"1"'

    r = await integ.get(f"/packages/{package['id']}", params={"currency": "XYZ"})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "query.currency", "message": "unknown ISO 4217 currency code", "value": "XYZ"}]
    r = await integ.get(f"/packages/{package['id']}", params={"currency": "JPY"})
    assert r.status_code == 422 and {e["value"] for e in r.json()["errors"]} == {"JPY"}
    assert r.json()["errors"][0]["field"].startswith("components.")

    listed_gbp = (await integ.get("/packages", params={"stakeholder_id": p.hotel["id"], "currency": "GBP"})).json()
    assert [x["total"] for x in listed_gbp["items"]] == [gbp.json()["total"]]
    assert await listed(integ, "/packages", specialty="orthopaedics", stakeholder_id=p.transfer["id"]) == [
        package["id"]]

    in_gbp = await create_package(integ, p, currency="gbp")
    assert in_gbp["currency"] == "GBP" and in_gbp["total"] == gbp.json()["total"]
    assert (await integ.get(f"/packages/{in_gbp['id']}")).json()["total"]["currency"] == "GBP"

    events = await feed(integ, start)
    assert [(e["type"], e["data"]["package_id"]) for e in events] == [
        ("package.published", package["id"]), ("package.published", in_gbp["id"])]
    assert events[0]["data"]["stakeholder_ids"] == sorted([p.hospital["id"], p.hotel["id"], p.transfer["id"]])


async def test_totals_follow_the_fx_base(integ: httpx.AsyncClient) -> None:
    p = await parties(integ)
    assert (await integ.put("/fx-rates", json={"base": "USD", "rates": {"EUR": "0.9249", "GBP": "0.7921"}})
            ).status_code == 200
    try:
        package = await create_package(integ, p)
        usd_in_eur = Decimal("1234.57") * Decimal("0.9249")
        expected = (Decimal("8450.00") + usd_in_eur + Decimal("95.5")).quantize(Decimal("0.01"))
        assert package["fx_base"] == "USD" and package["total"] == money(format(expected, "f"))
        assert package["fx_rates"] == {"EUR": "0.9249"}
        gbp = (await integ.get(f"/packages/{package['id']}", params={"currency": "GBP"})).json()
        exact = sum((Decimal(a) / Decimal(r) * Decimal("0.7921") for a, r in (
            ("8450.00", "0.9249"), ("1234.57", "1"), ("95.5", "0.9249"))), Decimal(0))
        assert gbp["total"] == money(format(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f"), "GBP")
        assert gbp["fx_rates"] == {"EUR": "0.9249", "GBP": "0.7921"}
    finally:
        await put_rates(integ)


async def test_creating_posts_honour_idempotency_keys(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    for path, body in (("/stakeholders", stakeholder_body()), ("/packages", package_body(p))):
        start = await last_seq(integ)
        key = {"Idempotency-Key": unique("create")}
        first = await integ.post(path, json=body, headers=key)
        again = await integ.post(path, json=body, headers=key)
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        other = await integ.post(path, json={**body, "name": unique("Other")}, headers=key)
        assert other.status_code == 409
        assert len(await feed(integ, start)) == 1, path


async def test_package_components_are_checked(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    start = await last_seq(integ)
    h, t, x = p.hospital["id"], p.hotel["id"], p.transfer["id"]

    def with_components(*specs: tuple[str, str]) -> dict[str, Any]:
        return package_body(p, components=[{"kind": k, "stakeholder_id": s, "description": "d",
                                            "price": money("10")} for k, s in specs])

    cases = [
        (with_components(("treatment", t)), "components.0.stakeholder_id", t),
        (with_components(("treatment", h), ("stay", x)), "components.1.stakeholder_id", x),
        (with_components(("treatment", h), ("transfer", h)), "components.1.stakeholder_id", h),
        (with_components(("treatment", h), ("stay", "stk_nobody")), "components.1.stakeholder_id", "stk_nobody"),
        ({**with_components(("treatment", h)), "specialty": "oncology"}, "components.0.stakeholder_id", h),
        (package_body(p, currency="XYZ"), "currency", "XYZ"),
        (package_body(p, components=[]), "components", None),
        (with_components(("stay", t)), "body", None),
        (with_components(("aftercare", h), ("massage", t)), "components.1.kind", "massage"),
    ]
    for body, field, value in cases:
        r = await integ.post("/packages", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (field, r.text)
        errors = {e["field"]: e for e in r.json()["errors"]}
        assert field in errors, (field, r.json())
        if value is not None:
            assert errors[field]["value"] == value
    float_price = package_body(p)
    float_price["components"][0]["price"] = {"amount": 8450.5, "currency": "EUR"}
    r = await integ.post("/packages", json=float_price)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "components.0.price.amount"
    assert await feed(integ, start) == []
    assert await listed(integ, "/packages", stakeholder_id=h) == []
    # Aftercare may come from a hotel; a stay from a rehab centre.
    rehab = (await register(integ, kind="rehab", specialties=["orthopaedics"]))["id"]
    ok = await integ.post("/packages", json=with_components(("treatment", rehab), ("stay", rehab),
                                                            ("aftercare", t)))
    assert ok.status_code == 201 and ok.json()["total"] == money("30.00")


async def test_a_package_with_an_inactive_party_starts_withdrawn(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ, status="inactive")
    start = await last_seq(integ)
    package = await create_package(integ, p)
    assert package["status"] == "withdrawn"
    assert package["status_reason"] == f"inactive stakeholders: {p.hotel['name']}"
    for auth in (FAC, as_(p.hospital["id"])):
        r = await integ.get(f"/packages/{package['id']}", auth=auth)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert await listed(integ, "/packages", auth=auth, stakeholder_id=p.hospital["id"]) == []
        assert await listed(integ, "/packages", auth=auth, stakeholder_id=p.hospital["id"],
                            status="withdrawn") == []
    assert await listed(integ, "/packages", stakeholder_id=p.hospital["id"], status="withdrawn") == [package["id"]]
    assert await listed(integ, "/packages", stakeholder_id=p.hospital["id"], status="published") == []

    r = await integ.patch(f"/packages/{package['id']}", json={"status": "published"})
    assert r.status_code == 409 and p.hotel["name"] in r.json()["detail"]
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "withdrawn"

    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "active"})).status_code == 200
    now = (await integ.get(f"/packages/{package['id']}", auth=FAC))
    assert now.status_code == 200 and now.json()["status"] == "published" and now.json()["status_reason"] is None
    events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert events == [("package.withdrawn", package["id"]), ("package.published", package["id"])]


async def test_packages_follow_their_stakeholders(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    first, second = await create_package(integ, p), await create_package(integ, p)
    start = await last_seq(integ)
    r = await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "inactive"})
    assert r.status_code == 200
    for package in (first, second):
        got = (await integ.get(f"/packages/{package['id']}")).json()
        assert got["status"] == "withdrawn" and p.hotel["name"] in got["status_reason"]
        assert (await integ.get(f"/packages/{package['id']}", auth=FAC)).status_code == 404
    assert await listed(integ, "/packages", auth=FAC, stakeholder_id=p.hotel["id"]) == []
    assert await listed(integ, "/packages", stakeholder_id=p.hotel["id"], status="withdrawn") == sorted(
        [first["id"], second["id"]])

    # A second party going inactive changes the reason; the package stays withdrawn.
    assert (await integ.patch(f"/stakeholders/{p.transfer['id']}", json={"status": "inactive"})).status_code == 200
    reason = (await integ.get(f"/packages/{first['id']}")).json()["status_reason"]
    assert p.hotel["name"] in reason and p.transfer["name"] in reason
    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "active"})).status_code == 200
    got = (await integ.get(f"/packages/{first['id']}")).json()
    assert got["status"] == "withdrawn" and got["status_reason"] == f"inactive stakeholders: {p.transfer['name']}"
    assert (await integ.patch(f"/stakeholders/{p.transfer['id']}", json={"status": "active"})).status_code == 200
    for package in (first, second):
        got = await integ.get(f"/packages/{package['id']}", auth=FAC)
        assert got.status_code == 200 and got.json()["status"] == "published"

    package_events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert [t for t, s in package_events if s == first["id"]] == [
        "package.withdrawn", "package.withdrawn", "package.withdrawn", "package.published"]
    assert [t for t, s in package_events if s == second["id"]][-1] == "package.published"
    # A change that is not about status leaves packages alone.
    before = await last_seq(integ)
    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"city": "Opatija"})).status_code == 200
    assert [e["type"] for e in await feed(integ, before)] == ["stakeholder.updated"]


async def test_a_dmo_withdrawal_sticks(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    package = await create_package(integ, p)
    pid = package["id"]
    for auth in (as_(p.hospital["id"]), FAC):
        r = await integ.patch(f"/packages/{pid}", json={"status": "withdrawn"}, auth=auth)
        assert r.status_code == 403
    start = await last_seq(integ)
    r = await integ.patch(f"/packages/{pid}", json={"status": "withdrawn"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    assert r.json()["status"] == "withdrawn" and r.json()["status_reason"] == "withdrawn by the DMO"
    stale = await integ.patch(f"/packages/{pid}", json={"name": "late"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412

    for status in ("inactive", "active"):
        assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": status})).status_code == 200
    got = (await integ.get(f"/packages/{pid}")).json()
    assert got["status"] == "withdrawn" and got["status_reason"] == "withdrawn by the DMO"
    assert (await integ.get(f"/packages/{pid}", auth=FAC)).status_code == 404

    r = await integ.patch(f"/packages/{pid}", json={"status": "published", "name": "Hip, republished"})
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["status_reason"] is None
    assert r.json()["name"] == "Hip, republished"
    events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert events == [("package.withdrawn", pid), ("package.published", pid)]
    assert (await integ.get("/packages/pkg_nope")).status_code == 404


async def test_null_package_name_is_422(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    pid = (await create_package(integ, await parties(integ)))["id"]
    r = await integ.patch(f"/packages/{pid}", json={"name": None})
    assert r.status_code == 422


async def test_null_package_status_is_422(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    pid = (await create_package(integ, await parties(integ)))["id"]
    r = await integ.patch(f"/packages/{pid}", json={"status": None})
    assert r.status_code == 422
    assert (await integ.get(f"/packages/{pid}")).json()["status"] == "published"


# -- FX -----------------------------------------------------------------------------------------

async def test_fx_table_is_staff_only(integ: httpx.AsyncClient) -> None:
    for caller in (facilitator("stk_f"), provider("stk_p")):
        auth = SignedAs(caller)
        assert (await integ.get("/fx-rates", auth=auth)).status_code == 403
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "2"}}, auth=auth)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


async def test_fx_table_is_replaced_whole_and_checked(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    start = await last_seq(integ)
    r = await integ.put("/fx-rates", json={"base": "eur", "rates": {"usd": "1.0812", "GBP": "0.8563", "EUR": "1"}})
    assert r.status_code == 200, r.text
    assert r.json()["base"] == "EUR" and r.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"}
    etag = r.headers["etag"]
    got = await integ.get("/fx-rates")
    assert got.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"} and got.headers["etag"] == etag
    (event,) = await feed(integ, start)
    assert event["type"] == "fx_rates.replaced" and event["data"]["base"] == "EUR"

    bad = [
        ({"base": "EUR", "rates": {"XYZ": "1.2"}}, "rates.XYZ"),
        ({"base": "XYZ", "rates": {}}, "base"),
        ({"base": "EUR", "rates": {"USD": "0"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"USD": "-1.08"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"USD": "lots"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"EUR": "1.1", "USD": "1.08"}}, None),
        ({"rates": {"USD": "1.08"}}, "base"),
    ]
    for body, field in bad:
        r = await integ.put("/fx-rates", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
        if field:
            assert any(e["field"].startswith(field) for e in r.json()["errors"]), (body, r.json())
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "9"}}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    got = await integ.get("/fx-rates")
    assert got.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"} and got.headers["etag"] == etag
    assert len(await feed(integ, start)) == 1
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.1"}}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["rates"] == {"USD": "1.1"} and r.headers["etag"] != etag


async def test_fx_table_must_keep_the_currencies_published_packages_use(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "GBP": "0.85"}})
    assert r.status_code == 200
    hotel = (await integ.post("/stakeholders", json={"kind": "hotel", "name": unique("Hotel"), "country": "HR",
                                                     "city": "Opatija"})).json()["id"]
    clinic = (await integ.post("/stakeholders", json={
        "kind": "wellness", "name": unique("Spa"), "country": "HR", "city": "Opatija",
        "specialties": ["spa_therapies"]})).json()["id"]
    package = await integ.post("/packages", json={"name": unique("Week"), "specialty": "spa_therapies", "components": [
        {"kind": "treatment", "stakeholder_id": clinic, "description": "spa", "price": money("900")},
        {"kind": "stay", "stakeholder_id": hotel, "description": "7 nights", "price": money("700", "USD")}]})
    assert package.status_code == 201 and package.json()["status"] == "published"
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.85"}})
    assert r.status_code == 409 and "USD" in r.json()["detail"] and package.json()["id"] in r.json()["detail"]
    assert (await integ.get("/fx-rates")).json()["rates"] == {"GBP": "0.85", "USD": "1.08"}
    assert (await integ.get("/packages", params={"currency": "GBP"})).status_code == 200


async def test_a_provider_dropping_the_specialty_withdraws_its_packages(integ: httpx.AsyncClient) -> None:
    await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "GBP": "0.85", "CHF": "0.94",
                                                                "SEK": "11.2", "NOK": "11.7", "DKK": "7.46"}})
    clinic = (await integ.post("/stakeholders", json={
        "kind": "clinic", "name": unique("Eye clinic"), "country": "HR", "city": "Rijeka",
        "specialties": ["ophthalmology", "checkups"]})).json()["id"]
    package = (await integ.post("/packages", json={"name": unique("LASIK"), "specialty": "ophthalmology",
                                                    "components": [{"kind": "treatment", "stakeholder_id": clinic,
                                                                    "description": "LASIK both eyes",
                                                                    "price": money("1900")}]})).json()
    assert package["status"] == "published"
    async with httpx.AsyncClient(base_url=str(integ.base_url), auth=as_(clinic)) as own:
        assert (await own.patch(f"/stakeholders/{clinic}", json={"specialties": ["checkups"]})).status_code == 200
        after = (await integ.get(f"/packages/{package['id']}")).json()
        assert after["status"] == "withdrawn" and "no longer able to deliver" in after["status_reason"]
        assert (await own.patch(f"/stakeholders/{clinic}", json={"specialties": ["checkups", "ophthalmology"]})
                ).status_code == 200
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "published"


async def test_totals_beyond_input_bounds_are_still_given(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"NOK": "11.69"}})).status_code == 200
    clinic = (await integ.post("/stakeholders", json={
        "kind": "clinic", "name": unique("Clinic"), "country": "HR", "city": "Rijeka",
        "specialties": ["checkups"]})).json()["id"]
    big = money("99999999999999")
    r = await integ.post("/packages", json={"name": unique("Huge"), "specialty": "checkups", "components": [
        {"kind": "treatment", "stakeholder_id": clinic, "description": "a", "price": big},
        {"kind": "aftercare", "stakeholder_id": clinic, "description": "b", "price": big}]})
    assert r.status_code == 201, r.text
    assert r.json()["total"] == {"amount": "199999999999998.00", "currency": "EUR"}
    nok = (await integ.get(f"/packages/{r.json()['id']}", params={"currency": "NOK"})).json()
    assert Decimal(nok["total"]["amount"]) == (Decimal("199999999999998") * Decimal("11.69")).quantize(Decimal("0.01"))


async def test_fx_table_keeps_currencies_of_withdrawn_packages_too(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"SEK": "11.2"}})).status_code == 200
    hotel = (await integ.post("/stakeholders", json={"kind": "hotel", "name": unique("Hotel"), "country": "HR",
                                                     "city": "Opatija"})).json()["id"]
    spa = (await integ.post("/stakeholders", json={"kind": "wellness", "name": unique("Spa"), "country": "HR",
                                                   "city": "Opatija", "specialties": ["spa_therapies"]})).json()["id"]
    package = (await integ.post("/packages", json={"name": unique("Week"), "specialty": "spa_therapies",
                                                    "components": [
        {"kind": "treatment", "stakeholder_id": spa, "description": "spa", "price": money("900")},
        {"kind": "stay", "stakeholder_id": hotel, "description": "7 nights", "price": money("7000", "SEK")}]})).json()
    assert (await integ.patch(f"/stakeholders/{hotel}", json={"status": "inactive"})).status_code == 200
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "withdrawn"
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {}})
    assert r.status_code == 409 and "SEK" in r.json()["detail"]
    assert (await integ.patch(f"/stakeholders/{hotel}", json={"status": "active"})).status_code == 200
    listed = await integ.get("/packages", params={"limit": 500}, auth=FAC)
    assert listed.status_code == 200 and package["id"] in {p["id"] for p in listed.json()["items"]}
