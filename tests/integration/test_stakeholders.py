"""The stakeholder register: registration, filters, who may see and change what.

Integration checks specialty codes against Segmentation's vocabulary over HTTP, so both
run as real uvicorn servers in this process (the module's ``pair``); each test makes its
own stakeholders and looks only at what it made.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pentad import migrate
from tests.integration.helpers import (
    as_,
    capacity_of,
    coverage,
    day,
    listed,
    new_specialty,
    post_capacity,
    register,
    row,
    stakeholder_body,
)
from tests.pillars import FAC, PROBLEM, Pair, feed, last_seq, money, unique
from tests.support import SignedAs

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
    assert mine["languages"] == ["de", "en"] and mine["city"] == "Rijeka"
    # Its specialties wait for staff: the approved ones stay.
    assert mine["specialties"] == ["orthopaedics", "cardiology"]
    assert mine["proposed_specialties"] == ["cardiology", "oncology"]
    for forbidden in ({"status": "inactive"}, {"country": "SI"}, {"languages": ["fr"], "status": "inactive"},
                      {"kind": "hotel", "status": "inactive"}):
        r = await integ.patch(f"/stakeholders/{a['id']}", json=forbidden, auth=me)
        assert r.status_code == 403, forbidden
        assert "staff" in r.json()["detail"]
    assert (await integ.get(f"/stakeholders/{a['id']}")).json() == mine

    events = await feed(integ, start)
    assert [(e["type"], e["subject"], e["data"].get("changed")) for e in events] == [
        ("stakeholder.updated", a["id"], ["city", "languages"]), ("stakeholder.proposal_submitted", a["id"], None)]
    assert events[0]["data"]["specialties"] == ["orthopaedics", "cardiology"]


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


# -- a provider's change of specialties or kind is a proposal until staff decide ----------------

async def propose(integ: httpx.AsyncClient, sid: str, auth: SignedAs | None = None, **changes: Any
                  ) -> dict[str, Any]:
    r = await integ.patch(f"/stakeholders/{sid}", json=changes, auth=auth or as_(sid))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_dental_clinic_proposing_cardiology_inflates_no_figure_until_approved(own_pair: Pair) -> None:
    async with own_pair.client("integration") as integ:
        hospital = (await register(integ, kind="hospital", specialties=["cardiology"]))["id"]
        assert (await post_capacity(integ, hospital, [row("cardiology", day(1), 9, 9)])).json()["inserted"] == 1
        clinic = (await register(integ, kind="dental", specialties=["dental_implantology"]))["id"]
        before = {"specialty": "cardiology", "providers": 1, "providers_with_fresh_capacity": 1,
                  "weekly_fresh_slots": 9}
        assert (await coverage(integ, "cardiology"))["cardiology"] == before
        start = await last_seq(integ)

        mine = await propose(integ, clinic, specialties=["dental_implantology", "cardiology"])
        assert mine["specialties"] == ["dental_implantology"] and mine["kind"] == "dental"
        assert mine["proposed_specialties"] == ["dental_implantology", "cardiology"]
        assert mine["proposed_kind"] is None and mine["proposed_by"] == f"key_prov_{clinic}"
        assert mine["proposed_at"] is not None and mine["proposal_decision"] is None
        r = await post_capacity(integ, clinic, [row("cardiology", day(1), 1_000_000, 1_000_000)], auth=as_(clinic))
        assert r.status_code == 200 and r.json()["inserted"] == 0
        (rejected,) = r.json()["rejected"]
        assert rejected["index"] == 0 and "does not offer" in rejected["reason"]
        assert (await coverage(integ, "cardiology"))["cardiology"] == before
        assert await listed(integ, "/stakeholders", specialty="cardiology") == [hospital]
        assert await listed(integ, "/stakeholders", auth=FAC, specialty="cardiology") == [hospital]
        assert await listed(integ, "/stakeholders", proposal="pending") == [clinic]
        assert await listed(integ, "/stakeholders", proposal="none") == [hospital]
        (submitted,) = await feed(integ, start)
        assert submitted["type"] == "stakeholder.proposal_submitted" and submitted["subject"] == clinic
        assert submitted["data"] == {"stakeholder_id": clinic, "proposed_specialties": mine["proposed_specialties"],
                                     "proposed_kind": None, "proposed_by": f"key_prov_{clinic}", "version": 2}

        etag = (await integ.get(f"/stakeholders/{clinic}")).headers["etag"]
        assert (await integ.post(f"/stakeholders/{clinic}/proposal/approve", json={},
                                 headers={"If-Match": '"1"'})).status_code == 412
        r = await integ.post(f"/stakeholders/{clinic}/proposal/approve", json={"reason": "cardiology unit verified"},
                             headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        approved = r.json()
        assert approved["specialties"] == ["dental_implantology", "cardiology"] and r.headers["etag"] == '"3"'
        assert approved["proposed_specialties"] is None and approved["proposed_at"] is None
        assert approved["proposal_decision"]["outcome"] == "approved"
        assert approved["proposal_decision"]["reason"] == "cardiology unit verified"
        assert approved["proposal_decision"]["decided_by"] == "key_staff"
        assert (await integ.post(f"/stakeholders/{clinic}/proposal/approve", json={})).status_code == 409
        assert [(e["type"], e["subject"]) for e in await feed(integ, submitted["seq"])] == [
            ("stakeholder.updated", clinic), ("stakeholder.proposal_approved", clinic)]

        r = await post_capacity(integ, clinic, [row("cardiology", day(1), 1_000_000, 1_000_000)], auth=as_(clinic))
        assert r.json()["inserted"] == 1
        assert (await coverage(integ, "cardiology"))["cardiology"] == {
            "specialty": "cardiology", "providers": 2, "providers_with_fresh_capacity": 2,
            "weekly_fresh_slots": 1_000_009}
        assert await listed(integ, "/stakeholders", auth=FAC, specialty="cardiology") == sorted([hospital, clinic])
        assert await listed(integ, "/stakeholders", proposal="pending") == []


async def test_a_hotel_proposing_orthopaedics_is_not_listed_under_it_until_approved(
        integ: httpx.AsyncClient) -> None:
    city = unique("City")
    hotel = (await register(integ, kind="hotel", city=city, specialties=[]))["id"]
    mine = await propose(integ, hotel, specialties=["orthopaedics"])
    assert mine["specialties"] == [] and mine["proposed_specialties"] == ["orthopaedics"]
    assert await listed(integ, "/stakeholders", auth=FAC, specialty="orthopaedics", city=city) == []
    assert await listed(integ, "/stakeholders", specialty="orthopaedics", city=city) == []
    r = await post_capacity(integ, hotel, [row("orthopaedics", day(1))], auth=as_(hotel))
    assert r.json()["inserted"] == 0 and len(r.json()["rejected"]) == 1
    # What a facilitator reads of it carries no proposal.
    seen = (await integ.get(f"/stakeholders/{hotel}", auth=FAC)).json()
    assert seen["proposed_specialties"] is None and seen["proposed_at"] is None
    assert (await integ.post(f"/stakeholders/{hotel}/proposal/approve")).status_code == 200
    assert await listed(integ, "/stakeholders", auth=FAC, specialty="orthopaedics", city=city) == [hotel]


async def test_a_proposed_kind_delivers_nothing_until_approved(integ: httpx.AsyncClient) -> None:
    hotel = (await register(integ, kind="hotel", specialties=[]))["id"]
    hospital = (await register(integ, kind="hospital", specialties=["orthopaedics"]))["id"]
    stay = (await integ.post("/packages", json={"name": unique("Hip"), "specialty": "orthopaedics", "components": [
        {"kind": "treatment", "stakeholder_id": hospital, "description": "hip", "price": money("8000")},
        {"kind": "stay", "stakeholder_id": hotel, "description": "7 nights", "price": money("700")}]})).json()
    assert stay["status"] == "published"
    mine = await propose(integ, hotel, kind="clinic", specialties=["orthopaedics"])
    assert mine["kind"] == "hotel" and mine["proposed_kind"] == "clinic"
    treatment = {"name": unique("Knee"), "specialty": "orthopaedics", "components": [
        {"kind": "treatment", "stakeholder_id": hotel, "description": "knee", "price": money("6000")}]}
    r = await integ.post("/packages", json=treatment)
    assert r.status_code == 422 and "a hotel cannot deliver a treatment" in r.json()["errors"][0]["message"]
    assert (await integ.get(f"/packages/{stay['id']}")).json()["status"] == "published"

    approved = (await integ.post(f"/stakeholders/{hotel}/proposal/approve")).json()
    assert approved["kind"] == "clinic" and approved["specialties"] == ["orthopaedics"]
    assert (await integ.post("/packages", json=treatment)).status_code == 201
    # A clinic does not deliver stays: the package that needed the hotel is withdrawn.
    after = (await integ.get(f"/packages/{stay['id']}")).json()
    assert after["status"] == "withdrawn" and "no longer able to deliver" in after["status_reason"]


async def test_staff_reject_a_proposal_with_a_reason_the_provider_reads(integ: httpx.AsyncClient) -> None:
    clinic = await register(integ, kind="clinic", specialties=["orthopaedics"])
    sid = clinic["id"]
    await propose(integ, sid, specialties=["orthopaedics", "oncology"], kind="hospital")
    start = await last_seq(integ)
    for body in ({}, {"reason": ""}, {"reason": "x", "extra": 1}):
        r = await integ.post(f"/stakeholders/{sid}/proposal/reject", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body
    r = await integ.post(f"/stakeholders/{sid}/proposal/reject", json={"reason": "no oncology licence on file"})
    assert r.status_code == 200, r.text
    assert r.json()["specialties"] == ["orthopaedics"] and r.json()["kind"] == "clinic"
    assert r.json()["proposed_specialties"] is None and r.json()["proposed_kind"] is None
    mine = (await integ.get(f"/stakeholders/{sid}", auth=as_(sid))).json()
    assert mine["proposal_decision"] == {
        "outcome": "rejected", "reason": "no oncology licence on file", "specialties": ["orthopaedics", "oncology"],
        "kind": "hospital", "decided_by": "key_staff", "decided_at": mine["proposal_decision"]["decided_at"]}
    (event,) = await feed(integ, start)
    assert event["type"] == "stakeholder.proposal_rejected"
    assert event["data"] == {"stakeholder_id": sid, "proposed_specialties": ["orthopaedics", "oncology"],
                             "proposed_kind": "hospital", "version": 3, "decided_by": "key_staff"}
    assert (await integ.post(f"/stakeholders/{sid}/proposal/reject", json={"reason": "again"})).status_code == 409


async def test_a_new_proposal_replaces_the_pending_one(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ, kind="clinic", specialties=["orthopaedics"]))["id"]
    start = await last_seq(integ)
    first = await propose(integ, sid, specialties=["orthopaedics", "oncology"])
    second = await propose(integ, sid, specialties=["cardiology"], name="Renamed clinic")
    assert second["name"] == "Renamed clinic" and second["specialties"] == ["orthopaedics"]
    assert second["proposed_specialties"] == ["cardiology"] and second["proposed_at"] >= first["proposed_at"]
    retried = await integ.patch(f"/stakeholders/{sid}", json={"specialties": ["cardiology"]}, auth=as_(sid))
    assert retried.json() == second  # the same proposal again changes nothing
    renamed = await propose(integ, sid, name="Clinic again")  # a change that proposes nothing keeps it
    assert renamed["proposed_specialties"] == ["cardiology"] and renamed["proposed_at"] == second["proposed_at"]
    # A provider system re-sending its approved values proposes nothing and withdraws the pending one.
    withdrawn = await propose(integ, sid, specialties=["orthopaedics"], kind="clinic")
    assert withdrawn["proposed_specialties"] is None and withdrawn["proposed_at"] is None
    assert [(e["type"], e["data"].get("changed")) for e in await feed(integ, start)] == [
        ("stakeholder.proposal_submitted", None), ("stakeholder.updated", ["name"]),
        ("stakeholder.proposal_submitted", None), ("stakeholder.updated", ["name"]),
        ("stakeholder.proposal_withdrawn", None)]
    assert (await integ.post(f"/stakeholders/{sid}/proposal/approve")).status_code == 409
    # Staff changes still apply at once.
    r = await integ.patch(f"/stakeholders/{sid}", json={"specialties": ["oncology"], "kind": "hospital"})
    assert r.json()["specialties"] == ["oncology"] and r.json()["kind"] == "hospital"
    assert r.json()["proposed_specialties"] is None


async def test_a_provider_cannot_decide_a_proposal_nor_touch_anothers(integ: httpx.AsyncClient) -> None:
    a, b = (await register(integ, kind="clinic"))["id"], (await register(integ, kind="clinic"))["id"]
    pending = await propose(integ, a, specialties=["oncology"])
    for path in (f"/stakeholders/{a}/proposal/approve", f"/stakeholders/{a}/proposal/reject"):
        for auth in (as_(a), as_(b), FAC):
            r = await integ.post(path, json={"reason": "mine"}, auth=auth)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, (path, r.text)
    assert (await integ.get(f"/stakeholders/{a}", auth=as_(b))).status_code == 403
    assert await listed(integ, "/stakeholders", auth=as_(b), proposal="pending") == []
    r = await integ.patch(f"/stakeholders/{a}", json={"specialties": ["cardiology"]}, auth=as_(b))
    assert r.status_code == 403
    r = await integ.get("/stakeholders", params={"proposal": "pending"}, auth=FAC)
    assert r.status_code == 403
    assert (await integ.get(f"/stakeholders/{a}", auth=as_(a))).json() == pending
    assert (await integ.get("/stakeholders", params={"proposal": "maybe"})).status_code == 422


async def test_the_proposal_migration_keeps_every_row_both_ways(databases: Any) -> None:
    url = await databases.new("integration")
    await asyncio.to_thread(migrate.downgrade, "integration", url, "int_0003")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO stakeholders (id, kind, name, country, city, languages, specialties, status, version, "
                "created_at, updated_at) VALUES ('stk_old', 'hospital', 'Old', 'HR', 'Rijeka', '[\"hr\"]', "
                "'[\"cardiology\"]', 'active', 4, :now, :now)"), {"now": datetime.now(UTC)})
            await conn.execute(sa.text("INSERT INTO stakeholder_specialties VALUES ('stk_old', 'cardiology')"))
            await conn.execute(sa.text(
                "INSERT INTO capacity VALUES ('stk_old', 'cardiology', :day, 5, 3, :now)"),
                {"day": datetime.now(UTC).date(), "now": datetime.now(UTC)})
        await asyncio.to_thread(migrate.upgrade, "integration", url)
        async with engine.connect() as conn:
            got = (await conn.execute(sa.text(
                "SELECT name, version, proposed_specialties, proposed_kind, proposed_at, proposal_decision "
                "FROM stakeholders"))).all()
            assert got == [("Old", 4, None, None, None, None)]
        await asyncio.to_thread(migrate.downgrade, "integration", url, "int_0003")
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT id, name, version FROM stakeholders"))).all() == [
                ("stk_old", "Old", 4)]
            assert (await conn.execute(sa.text("SELECT count(*) FROM stakeholder_specialties"))).scalar() == 1
            assert (await conn.execute(sa.text("SELECT slots_total FROM capacity"))).scalar() == 5
    finally:
        await engine.dispose()


# -- strict inputs --------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "params", "unknown"), [
    ("/stakeholders", {"kind": "clinic", "kindd": "hotel"}, "kindd"),
    ("/stakeholders", {"speciality": "cardiology"}, "speciality"),
    ("/coverage", {"specialty": "cardiology", "from": "2026-01-01"}, "from"),
    ("/packages", {"curency": "GBP"}, "curency"),
    ("/packages/pkg_any", {"currency": "GBP", "lang": "de"}, "lang"),
    ("/stakeholders/stk_any/capacity", {"from": "2026-01-01", "until": "2026-02-01"}, "until"),
    ("/fx-rates", {"base": "USD"}, "base"),
    ("/events", {"since": "3"}, "since"),
])
async def test_an_unknown_query_parameter_is_a_422_naming_it(integ: httpx.AsyncClient, path: str,
                                                            params: dict[str, str], unknown: str) -> None:
    r = await integ.get(path, params=params)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert [(e["field"], e["value"]) for e in r.json()["errors"]] == [(f"query.{unknown}", params[unknown])]


async def test_a_write_with_an_unknown_query_parameter_changes_nothing(integ: httpx.AsyncClient) -> None:
    start = await last_seq(integ)
    r = await integ.post("/stakeholders", params={"dry_run": "1"}, json=stakeholder_body())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.dry_run"
    sid = (await register(integ))["id"]
    r = await integ.patch(f"/stakeholders/{sid}", params={"force": "true"}, json={"name": "Changed"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.force"
    assert (await integ.get(f"/stakeholders/{sid}")).json()["name"] != "Changed"
    assert [e["type"] for e in await feed(integ, start)] == ["stakeholder.registered"]
