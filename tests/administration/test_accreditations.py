"""Accreditations: submitting evidence, staff decisions, statuses from dates, who sees what."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from pentad.settings import Settings
from services.administration.client import AdministrationClient
from tests.administration.helpers import (
    Trio,
    accreditation_body,
    as_facilitator,
    as_provider,
    assert_problem,
    day,
    listed,
    register,
    submit,
    verified,
)
from tests.pillars import feed, last_seq, service_urls, start_pair


async def test_a_provider_submits_its_own_evidence_as_pending(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    seq = await last_seq(adm)
    body = accreditation_body(hospital)
    r = await adm.post("/accreditations", json=body, auth=as_provider(hospital))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "pending" and created["reason"] is None
    assert {k: created[k] for k in body} == body
    assert r.headers["location"] == f"/accreditations/{created['id']}" and r.headers["etag"] == '"1"'
    events = await feed(adm, seq)
    assert [e["type"] for e in events] == ["accreditation.submitted"]
    assert events[0]["subject"] == created["id"]
    assert events[0]["data"] | {"version": 1} == {
        "accreditation_id": created["id"], "stakeholder_id": hospital, "scheme_id": "sch_jci", "scheme_code": "jci",
        "certificate_no": body["certificate_no"], "issued_on": body["issued_on"], "expires_on": body["expires_on"],
        "status": "pending", "reason": None, "version": 1}


async def test_expires_on_defaults_to_the_schemes_validity(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    created = await submit(adm, hospital, scheme_id="sch_national_licence", issued_on="2024-02-29", expires_on=None)
    assert created["expires_on"] == "2029-02-28"  # five years, a leap day falling back to the 28th


async def test_a_provider_cannot_verify_its_own_accreditation_or_touch_another(
        adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    mine, theirs = await register(reg), await register(reg, kind="dental")
    own = await submit(adm, mine, auth=as_provider(mine))
    other = await submit(adm, theirs, auth=as_provider(theirs))
    me = as_provider(mine)
    for decision in ({"status": "valid"}, {"status": "suspended", "reason": "x"}, {"status": "revoked", "reason": "x"},
                     {"reason": "looks fine to me"}):
        assert_problem(await adm.patch(f"/accreditations/{own['id']}", json=decision, auth=me), 403)
    assert_problem(await adm.patch(f"/accreditations/{other['id']}", json={"certificate_no": "X"}, auth=me), 403)
    assert_problem(await adm.get(f"/accreditations/{other['id']}", auth=me), 403)
    assert_problem(await adm.post("/accreditations", json=accreditation_body(theirs), auth=me), 403)
    assert_problem(await adm.get("/accreditations", params={"stakeholder_id": theirs}, auth=me), 403)
    assert [a["id"] for a in await listed(adm, "/accreditations", auth=me)] == [own["id"]]
    # Nothing changed: both still pending, at version 1.
    for record in (own, other):
        r = await adm.get(f"/accreditations/{record['id']}")
        assert r.json()["status"] == "pending" and r.headers["etag"] == '"1"'


async def test_a_provider_corrects_its_evidence_only_while_pending(adm: httpx.AsyncClient,
                                                                  reg: httpx.AsyncClient) -> None:
    mine = await register(reg)
    created = await submit(adm, mine, auth=as_provider(mine))
    r = await adm.patch(f"/accreditations/{created['id']}", json={"certificate_no": "JCI-2025-0042"},
                        auth=as_provider(mine))
    assert r.status_code == 200 and r.json()["certificate_no"] == "JCI-2025-0042" and r.headers["etag"] == '"2"'
    assert (await adm.patch(f"/accreditations/{created['id']}", json={"status": "valid"})).status_code == 200
    r = await adm.patch(f"/accreditations/{created['id']}", json={"expires_on": day(3000)}, auth=as_provider(mine))
    assert_problem(r, 403)


async def test_staff_verify_suspend_reinstate_and_revoke(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    created = await submit(adm, hospital)
    seq = await last_seq(adm)
    path = f"/accreditations/{created['id']}"
    steps = [({"status": "valid"}, "valid"),
             ({"status": "suspended", "reason": "Inspection found lapses"}, "suspended"),
             ({"status": "valid", "reason": "Re-inspected"}, "valid"),
             ({"status": "revoked", "reason": "Certificate withdrawn by JCI"}, "revoked")]
    for patch, status in steps:
        r = await adm.patch(path, json=patch)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status and r.json()["reason"] == patch.get("reason")
    events = await feed(adm, seq)
    assert [e["type"] for e in events] == ["accreditation.verified", "accreditation.suspended",
                                           "accreditation.verified", "accreditation.revoked"]
    assert events[-1]["data"]["reason"] == "Certificate withdrawn by JCI"


@pytest.mark.parametrize(("path", "patch", "allowed"), [
    (["revoked"], {"status": "valid"}, "none (revoked is final)"),
    ([], {"status": "suspended", "reason": "x"}, "revoked, valid"),   # pending cannot be suspended
    (["valid"], {"status": "valid"}, None),                           # the same status again: a no-op
])
async def test_illegal_transitions_are_409_naming_the_allowed_ones(
        adm: httpx.AsyncClient, reg: httpx.AsyncClient, path: list[str], patch: dict[str, Any],
        allowed: str | None) -> None:
    created = await submit(adm, await register(reg))
    url = f"/accreditations/{created['id']}"
    for status in path:
        r = await adm.patch(url, json={"status": status, "reason": "on the way"})
        assert r.status_code == 200, r.text
    before = await adm.get(url)
    r = await adm.patch(url, json=patch)
    if allowed is None:
        assert r.status_code == 200 and r.headers["etag"] == before.headers["etag"]
        return
    problem = assert_problem(r, 409, "status")
    assert f"allowed: {allowed}" in problem["detail"]
    assert (await adm.get(url)).json() == before.json()


@pytest.mark.parametrize("status", ["suspended", "revoked"])
async def test_suspending_or_revoking_needs_a_reason(adm: httpx.AsyncClient, reg: httpx.AsyncClient,
                                                     status: str) -> None:
    created = await verified(adm, await register(reg))
    assert_problem(await adm.patch(f"/accreditations/{created['id']}", json={"status": status}), 422, "reason")
    assert (await adm.get(f"/accreditations/{created['id']}")).json()["status"] == "valid"


async def test_computed_statuses_cannot_be_set(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    created = await verified(adm, await register(reg))
    for status in ("expired", "expiring", "pending"):
        assert_problem(await adm.patch(f"/accreditations/{created['id']}", json={"status": status}), 422, "status")


INVALID = {
    "expires before issued": ({"issued_on": day(-10), "expires_on": day(-20)}, "expires_on"),
    "expires the day it is issued": ({"issued_on": day(-10), "expires_on": day(-10)}, "expires_on"),
    "issued in the future": ({"issued_on": day(5)}, "issued_on"),
    "unknown scheme": ({"scheme_id": "sch_nope"}, "scheme_id"),
    "not a URL": ({"evidence_url": "ftp:/nowhere"}, "evidence_url"),
    "unknown field": ({"grade": "A"}, "grade"),
}


@pytest.mark.parametrize("case", INVALID)
async def test_bad_submissions_are_422_naming_the_field(adm: httpx.AsyncClient, reg: httpx.AsyncClient,
                                                        case: str) -> None:
    hospital = await register(reg)
    changes, field = INVALID[case]
    assert_problem(await adm.post("/accreditations", json=accreditation_body(hospital, **changes)), 422, field)
    assert await listed(adm, "/accreditations", params=[("stakeholder_id", hospital)]) == []


async def test_the_stakeholder_must_be_a_provider_the_register_knows(adm: httpx.AsyncClient,
                                                                     reg: httpx.AsyncClient) -> None:
    hotel = await register(reg, kind="hotel")
    for stakeholder_id, message in ((hotel, "a hotel is not a provider"), ("stk_unknown", "not in the stakeholder")):
        problem = assert_problem(await adm.post("/accreditations", json=accreditation_body(stakeholder_id)), 422,
                                 "stakeholder_id")
        assert message in problem["errors"][0]["message"]
    # A hotel's own (provider-role) key is refused the same way.
    r = await adm.post("/accreditations", json=accreditation_body(hotel), auth=as_provider(hotel))
    assert_problem(r, 422, "stakeholder_id")


async def test_a_patch_keeps_dates_in_order(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    created = await submit(adm, await register(reg), issued_on=day(-100), expires_on=day(100))
    assert_problem(await adm.patch(f"/accreditations/{created['id']}", json={"expires_on": day(-200)}), 422,
                   "expires_on")
    assert_problem(await adm.patch(f"/accreditations/{created['id']}", json={"issued_on": day(-1), "expires_on":
                                                                             day(-2)}), 422, "expires_on")


async def test_the_same_certificate_twice_is_409(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    first = await submit(adm, hospital, certificate_no="JCI-1")
    assert_problem(await adm.post("/accreditations", json=accreditation_body(hospital, certificate_no="JCI-1")), 409,
                   "certificate_no")
    assert [a["id"] for a in await listed(adm, "/accreditations", params=[("stakeholder_id", hospital)])] == \
        [first["id"]]


async def test_a_retried_submission_creates_nothing_new(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    body = accreditation_body(hospital)
    first = await adm.post("/accreditations", json=body, headers={"Idempotency-Key": "acc-retry"})
    again = await adm.post("/accreditations", json=body, headers={"Idempotency-Key": "acc-retry"})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await listed(adm, "/accreditations", params=[("stakeholder_id", hospital)])) == 1


async def test_if_match_guards_decisions(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    created = await submit(adm, await register(reg))
    url = f"/accreditations/{created['id']}"
    assert_problem(await adm.patch(url, json={"status": "valid"}, headers={"If-Match": '"7"'}), 412)
    r = await adm.patch(url, json={"status": "valid"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'


async def test_statuses_follow_the_dates_on_read_and_in_filters(adm: httpx.AsyncClient,
                                                                reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    valid = await verified(adm, hospital, expires_on=day(91))
    expiring = await verified(adm, hospital, expires_on=day(90))
    last_day = await verified(adm, hospital, expires_on=day(0))
    expired = await verified(adm, hospital, expires_on=day(-1))
    pending = await submit(adm, hospital, expires_on=day(-1))
    expected = {valid["id"]: "valid", expiring["id"]: "expiring", last_day["id"]: "expiring",
                expired["id"]: "expired", pending["id"]: "pending"}
    everything = await listed(adm, "/accreditations", params=[("stakeholder_id", hospital)])
    assert {a["id"]: a["status"] for a in everything} == expected
    for status in ("valid", "expiring", "expired", "pending", "suspended"):
        found = await listed(adm, "/accreditations", params=[("stakeholder_id", hospital), ("status", status)])
        assert {a["id"] for a in found} == {i for i, s in expected.items() if s == status}, status
    both = await listed(adm, "/accreditations", params=[("stakeholder_id", hospital), ("status", "valid"),
                                                        ("status", "expiring")])
    assert {a["id"] for a in both} == {valid["id"], expiring["id"], last_day["id"]}
    assert (await adm.get(f"/accreditations/{expired['id']}")).json()["status"] == "expired"


async def test_unknown_filters_and_query_parameters_are_422(adm: httpx.AsyncClient) -> None:
    assert_problem(await adm.get("/accreditations", params={"status": "lapsed"}), 422, "query.status.0")
    assert_problem(await adm.get("/accreditations", params={"stakus": "valid"}), 422, "query.stakus")


async def test_facilitators_read_only_what_a_scheme_publishes(adm: httpx.AsyncClient, reg: httpx.AsyncClient) -> None:
    active, inactive = await register(reg), await register(reg, kind="clinic")
    agent = as_facilitator(await register(reg, kind="facilitator"))
    shown = await verified(adm, active)
    expiring = await verified(adm, active, expires_on=day(30))
    hidden = [await submit(adm, active), await verified(adm, active, expires_on=day(-3)),
              await verified(adm, inactive)]
    suspended = await verified(adm, active)
    await adm.patch(f"/accreditations/{suspended['id']}", json={"status": "suspended", "reason": "audit"})
    hidden.append(suspended)
    assert (await reg.patch(f"/stakeholders/{inactive}", json={"status": "inactive"})).status_code == 200

    seen = await listed(adm, "/accreditations", auth=agent, params=[("scheme_id", "sch_jci")])
    mine = {a["id"] for a in seen if a["stakeholder_id"] in (active, inactive)}
    assert mine == {shown["id"], expiring["id"]}
    assert all(a["evidence_url"] is None for a in seen)
    assert {a["id"] for a in await listed(adm, "/accreditations", auth=agent,
                                          params=[("stakeholder_id", inactive)])} == set()
    r = await adm.get(f"/accreditations/{shown['id']}", auth=agent)
    assert r.status_code == 200 and r.json()["status"] == "valid"
    for record in hidden:
        assert_problem(await adm.get(f"/accreditations/{record['id']}", auth=agent), 404)
    assert_problem(await adm.get("/accreditations", params={"status": "pending"}, auth=agent), 403)
    assert_problem(await adm.patch(f"/accreditations/{shown['id']}", json={"status": "revoked", "reason": "x"},
                                   auth=agent), 403)
    assert_problem(await adm.post("/accreditations", json=accreditation_body(active), auth=agent), 403)


async def test_the_typed_client_reads_what_other_pillars_need(trio: Trio, adm: httpx.AsyncClient,
                                                              reg: httpx.AsyncClient) -> None:
    hospital = await register(reg)
    valid, expiring = await verified(adm, hospital), await verified(adm, hospital, expires_on=day(10))
    await submit(adm, hospital)
    settings = Settings(service="development", secret="test-secret", service_urls=trio.pair.urls)
    async with httpx.AsyncClient() as http:
        client = AdministrationClient.for_settings(http, settings)
        found = await client.accreditations(stakeholder_id=hospital)
        pending = await client.accreditations(status=["pending"], stakeholder_id=hospital)
    assert {(a.id, a.status) for a in found} == {(valid["id"], "valid"), (expiring["id"], "expiring")}
    assert [a.status for a in pending] == ["pending"]


async def test_an_unreachable_register_is_503_and_records_nothing(databases, tmp: Path) -> None:
    """Integration down: the stakeholder cannot be checked, so nothing is accepted on trust."""
    async with AsyncExitStack() as stack:
        alone = await start_pair(stack, databases, tmp, urls=service_urls(), services=("administration",),
                                 sweep_interval_seconds=0)
        async with alone.client("administration") as adm:
            problem = assert_problem(await adm.post("/accreditations", json=accreditation_body("stk_any")), 503)
            assert "integration" in problem["detail"]
            assert await listed(adm, "/accreditations") == []
