"""The stakeholder register: registration, filters, who may see and change what.

Integration checks specialty codes against Segmentation's vocabulary over HTTP, so both
run as real uvicorn servers in this process (the module's ``pair``); each test makes its
own stakeholders and looks only at what it made.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.helpers import (
    as_,
    capacity_of,
    day,
    listed,
    new_specialty,
    post_capacity,
    register,
    row,
    stakeholder_body,
)
from tests.pillars import FAC, PROBLEM, feed, last_seq, money, unique

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
