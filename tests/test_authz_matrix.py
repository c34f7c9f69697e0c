"""Authorization matrix (issue 6): every operation of the gateway's merged OpenAPI, called as
every kind of caller, against ONE table of expected outcomes.

Callers: no key, a revoked key, admin, staff, provider A on its own stakeholder and on
provider B's, facilitator A on its own and on facilitator B's. Outcomes: ``OK`` (2xx, and the
answer holds nothing of another tenant), ``PUB`` (2xx, the answer may name other tenants: the
public register a facilitator reads), or the exact denial status (401, 403, 404).

An operation in the OpenAPI but not in ``TABLE`` fails (add it to the table); a table entry
no longer in the OpenAPI fails too. A denied write must change nothing: the service's event
feed does not grow and the record (or list) it names reads back the same.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.platform import RATES, Seeded, day, seeded_platform
from tests.support import serving
from tests.test_webhooks import Receiver

CALLERS = ("anon", "revoked", "admin", "staff", "provider_own", "provider_other", "facilitator_own",
           "facilitator_other")
KEY_OF = {"anon": None, "revoked": "revoked", "admin": "admin", "staff": "staff", "provider_own": "provider_a",
          "provider_other": "provider_a", "facilitator_own": "facilitator_a", "facilitator_other": "facilitator_a"}
OK, PUB = "ok", "public"
Expect = tuple[str | int, ...]  # one outcome per caller, in the order of CALLERS

OPEN: Expect = (OK,) * 8  # probes: no key needed, and a bad one is not even looked at
ANY_KEY: Expect = (401, 401, OK, OK, OK, OK, OK, OK)
STAFF: Expect = (401, 401, OK, OK, 403, 403, 403, 403)
ADMIN: Expect = (401, 401, OK, 403, 403, 403, 403, 403)
OWN: Expect = (401, 401, OK, OK, OK, 403, 403, 403)  # staff, or the provider key bound to the stakeholder
REGISTER: Expect = (401, 401, OK, OK, OK, OK, PUB, PUB)  # a provider sees itself; a facilitator the active register
ONE_STAKEHOLDER: Expect = (401, 401, OK, OK, OK, 403, OK, PUB)  # ... and one entry of it
# The path names a record hidden from providers and facilitators (an inactive stakeholder,
# a withdrawn package): its existence must not leak to a facilitator (404).
HIDDEN_STAKEHOLDER: Expect = (401, 401, OK, OK, 403, 403, 404, 404)
HIDDEN_CAPACITY: Expect = (401, 401, OK, OK, 403, 403, 403, 403)
HIDDEN_PACKAGE: Expect = (401, 401, OK, OK, 404, 404, 404, 404)

Body = Callable[[Seeded], Any] | None
# What the path's record is for each caller when it is not a stakeholder's own id: the
# record of hospital A for everyone but "another's" callers, who get B's (or agent B's).
OWNED: Expect = (401, 401, OK, OK, OK, 403, PUB, PUB)  # a provider's own record; the public part for facilitators
MEMBER: Expect = (401, 401, OK, OK, OK, 403, OK, 403)  # each stakeholder reads its own membership
COMPLAINT: Expect = (401, 401, OK, OK, OK, 404, OK, 404)  # about the provider, or filed by the facilitator
FILE_COMPLAINT: Expect = (401, 401, OK, OK, 403, 403, OK, OK)  # staff and facilitators file complaints
FILTERED: Expect = (401, 401, OK, OK, OK, OK, OK, OK)  # everyone lists; each sees only its own part
DRAFT_CAMPAIGN: Expect = (401, 401, OK, OK, 404, 404, 404, 404)  # only active campaigns exist for partners
COORDINATOR_ONLY: Expect = (401, 401, 403, 403, 403, 403, 403, 403)  # service:dmo, never through a key
OFFER: Expect = (401, 401, OK, OK, PUB, PUB, PUB, PUB)  # the coordinator's offer: the providers in it, by name
WEBHOOK: Expect = (401, 401, OK, OK, OK, 404, OK, 404)  # a key's own subscription; another key's does not exist


@dataclass(frozen=True)
class Op:
    expect: Expect
    body: Body = None  # a valid minimal body, so a 422 is never taken for an authorization answer
    query: dict[str, str] | None = None
    hidden: Expect | None = None  # also called on the hidden record, expecting this
    # Run before each call (as staff or the record's own key): what an allowed call needs to
    # find (e.g. a pending proposal to approve), so it can answer 2xx.
    prepare: Callable[[Seeded], Awaitable[None]] | None = None
    # The body names the stakeholder (not the path): built for the caller's own or another's.
    owner_in_body: bool = False


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _stakeholder(_: Seeded) -> dict[str, Any]:
    return {"kind": "hotel", "name": f"Matrix hotel {_tag()}", "country": "HR", "city": "Opatija"}


def _segment(s: Seeded) -> dict[str, Any]:
    return {"name": f"Matrix segment {_tag()}", "family": "medical", "specialties": [s.specialty],
            "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to",
            "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}}


def _package(s: Seeded) -> dict[str, Any]:
    return {"name": f"Matrix package {_tag()}", "specialty": s.specialty, "components": [
        {"kind": "treatment", "stakeholder_id": s.hospital_a.id, "description": "Knee arthroscopy",
         "price": {"amount": "1800.00", "currency": "EUR"}}]}


def _initiative(s: Seeded) -> dict[str, Any]:
    return {"title": f"Matrix initiative {_tag()}", "segment_id": s.segment["id"], "gap": "weekly_capacity",
            "owner": "DMO development team", "budget": {"amount": "1000.00", "currency": "EUR"},
            "milestones": [{"title": "Recruit a clinic", "due_on": "2030-01-31"}]}


def _assessment(s: Seeded) -> dict[str, Any]:
    """A recorded assessment (figures of a past date): it needs no pillar but Segmentation."""
    return {"as_of": "2026-01-01", "segments": [{"segment_id": s.segment["id"], "current": {
        "accredited_providers": 1, "weekly_capacity": 5, "hotels": 1, "transfer_firms": 1}}]}


async def _propose(s: Seeded) -> None:
    """Hospital A's own key proposes a change of its specialties, so there is one to decide."""
    async with s.client("provider_a") as provider:
        current = (await provider.get(f"/integration/stakeholders/{s.hospital_a.id}")).json()
        wanted = [c for c in current["specialties"] if c != "cardiology"]
        if wanted == current["specialties"]:
            wanted.append("cardiology")
        r = await provider.patch(f"/integration/stakeholders/{s.hospital_a.id}", json={"specialties": wanted})
        assert r.status_code == 200 and r.json()["proposed_specialties"] == wanted, r.text


_YEARS = itertools.count(2100)


def _accreditation(s: Seeded, stakeholder_id: str | None = None) -> dict[str, Any]:
    return {"stakeholder_id": stakeholder_id or s.hospital_a.id, "scheme_id": "sch_jci",
            "certificate_no": f"JCI-{_tag()}", "issued_on": "2026-01-05", "evidence_url": "https://example.org/c"}


def _membership(s: Seeded, stakeholder_id: str | None = None) -> dict[str, Any]:
    year = next(_YEARS)  # periods of one stakeholder may not overlap
    return {"stakeholder_id": stakeholder_id or s.hospital_a.id, "tier": "standard",
            "dues": {"amount": "1200.00", "currency": "EUR"}, "period_start": f"{year}-01-01",
            "period_end": f"{year}-12-31"}


def _complaint(s: Seeded, stakeholder_id: str | None = None) -> dict[str, Any]:
    return {"stakeholder_id": stakeholder_id or s.hospital_a.id, "category": "service", "severity": "low",
            "description": "The transfer was late."}


def _campaign(s: Seeded) -> dict[str, Any]:
    return {"name": f"Matrix campaign {_tag()}", "segment_ids": [s.segment["id"]], "source_markets": ["DE"],
            "channels": ["digital"], "budget": {"amount": "1000000.00", "currency": "EUR"}}


def _capacity(s: Seeded) -> dict[str, Any]:
    return {"rows": [{"specialty": s.specialty, "date": day(5), "slots_total": 4, "slots_available": 2}]}


# Promotion: the record of "own" callers is agent A's enquiry routed to hospital A only; of
# "another's", agent B's routed to hospital B only (see _promotion_record).
FILE_ENQUIRY: Expect = (401, 401, OK, OK, 403, 403, OK, OK)  # staff, or a facilitator for itself
ENQUIRY: Expect = (401, 401, OK, OK, OK, 404, OK, 404)  # routed to the provider, or the facilitator's own
CHANGE_ENQUIRY: Expect = (401, 401, OK, OK, 403, 404, OK, 404)  # the provider reads it, does not move it
ANSWER: Expect = (401, 401, OK, OK, OK, 404, 403, 404)  # the routed provider (or staff) answers
ISSUE_QUOTE: Expect = (401, 401, OK, OK, OK, 404, 403, 404)  # the routed provider's offer (staff may enter it)
CHANGE_QUOTE: Expect = (401, 401, OK, OK, OK, 404, 403, 404)  # sending is the provider's (or staff's) step
PERFORMANCE: Expect = (401, 401, OK, OK, OK, OK, 403, 403)  # staff all; a provider its own figures


def _enquiry() -> dict[str, Any]:
    """Agent A's patient, for days 1..3: only hospital A has capacity then."""
    return {"specialty": "orthopaedics", "source_market": "GB", "preferred_from": day(1), "preferred_to": day(3),
            "languages": ["en"], "contact": {"name": "Matrix Patient", "email": "matrix.patient@example.org"},
            "consent": {"given_at": "2026-01-01T09:00:00Z", "scope": ["routing", "quotes"]}}


def _quote() -> dict[str, Any]:
    return {"items": [{"description": "Knee replacement", "amount_minor": 520000, "currency": "EUR"}],
            "valid_until": day(30)}
def _launch(_: Seeded) -> dict[str, Any]:
    return {"campaign_id": f"cmp_matrix_{_tag()}"}  # no such campaign: the action ends failed at once


def _onboarding(s: Seeded) -> dict[str, Any]:
    return {"stakeholder": {"kind": "clinic", "name": f"Matrix clinic {_tag()}", "country": "HR", "city": "Rijeka",
                            "specialties": [s.specialty]},
            "accreditation": {"scheme_id": "sch_jci", "certificate_no": f"JCI-{_tag()}", "issued_on": "2026-01-05"},
            "membership": {"tier": "associate", "dues": {"amount": "100.00", "currency": "EUR"}}}


async def _actions_idle(s: Seeded) -> None:
    async with s.client("staff") as staff:
        for _ in range(200):
            r = await staff.get("/dmo/actions", params={"status": "running"})
            if r.status_code == 200 and not r.json()["items"]:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"actions still running: {r.text[:500]}")


SIX = ("segmentation", "integration", "administration", "development", "promotion", "dmo")

TABLE: dict[tuple[str, str], Op] = {
    # -- the gateway's own routes
    ("POST", "/gateway/keys"): Op(ADMIN, body=lambda s: {"name": f"matrix {_tag()}", "role": "staff"}),
    ("GET", "/gateway/keys"): Op(ADMIN),
    ("DELETE", "/gateway/keys/{key_id}"): Op(ADMIN),
    ("POST", "/gateway/webhooks"): Op(ANY_KEY, body=lambda s: {"url": f"{s.extra['hooks']}/matrix",
                                                               "events": ["segment.created"]}),
    ("GET", "/gateway/webhooks"): Op(FILTERED),
    ("DELETE", "/gateway/webhooks/{webhook_id}"): Op(WEBHOOK),
    ("GET", "/gateway/webhooks/{webhook_id}/deliveries"): Op(WEBHOOK),
    ("POST", "/gateway/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Op(WEBHOOK),
    ("GET", "/health"): Op(OPEN),
    ("GET", "/health/live"): Op(OPEN),
    ("GET", "/health/ready"): Op(OPEN),
    # -- what every service has
    **{("GET", f"/{s}/health/live"): Op(OPEN) for s in SIX},
    **{("GET", f"/{s}/health/ready"): Op(OPEN) for s in SIX},
    **{("GET", f"/{s}/events"): Op(STAFF) for s in SIX},
    **{("GET", f"/{s}/whoami"): Op(ANY_KEY) for s in SIX},
    # -- segmentation
    ("GET", "/segmentation/specialties"): Op(ANY_KEY),
    ("POST", "/segmentation/specialties"): Op(STAFF, body=lambda s: {
        "code": f"matrix_{_tag()}", "name": "Matrix specialty", "family": "medical"}),
    ("POST", "/segmentation/segments"): Op(STAFF, body=_segment),
    ("GET", "/segmentation/segments"): Op(ANY_KEY),
    ("GET", "/segmentation/segments/{segment_id}"): Op(ANY_KEY),
    ("PATCH", "/segmentation/segments/{segment_id}"): Op(STAFF, body=lambda s: {"name": f"Matrix {_tag()}"}),
    ("GET", "/segmentation/segments/{segment_id}/attractiveness"): Op(ANY_KEY),
    # -- integration
    ("POST", "/integration/stakeholders"): Op(STAFF, body=_stakeholder),
    ("GET", "/integration/stakeholders"): Op(REGISTER),
    ("GET", "/integration/stakeholders/{stakeholder_id}"): Op(ONE_STAKEHOLDER, hidden=HIDDEN_STAKEHOLDER),
    ("PATCH", "/integration/stakeholders/{stakeholder_id}"): Op(OWN, body=lambda s: {"city": "Rijeka"}),
    ("POST", "/integration/stakeholders/{stakeholder_id}/capacity"): Op(OWN, body=_capacity),
    ("GET", "/integration/stakeholders/{stakeholder_id}/capacity"): Op(OWN, hidden=HIDDEN_CAPACITY),
    ("GET", "/integration/coverage"): Op(ANY_KEY, query={"specialty": "orthopaedics"}),
    ("POST", "/integration/packages"): Op(STAFF, body=_package),
    ("GET", "/integration/packages"): Op(ANY_KEY),
    ("GET", "/integration/packages/{package_id}"): Op(ANY_KEY, hidden=HIDDEN_PACKAGE),
    ("PATCH", "/integration/packages/{package_id}"): Op(STAFF, body=lambda s: {"name": f"Matrix {_tag()}"}),
    ("GET", "/integration/fx-rates"): Op(STAFF),
    ("PUT", "/integration/fx-rates"): Op(STAFF, body=lambda s: {"base": "EUR", "rates": RATES}),
    ("GET", "/integration/capacity"): Op(STAFF, query={"from": "2030-01-07", "to": "2030-02-03"}),
    ("GET", "/integration/capacity/weekly"): Op(STAFF, query={"specialty": "orthopaedics", "from": "2030-01-07",
                                                               "to": "2030-02-03"}),
    ("POST", "/integration/stakeholders/{stakeholder_id}/proposal/approve"): Op(
        STAFF, body=lambda s: {"reason": "verified"}, prepare=_propose),
    ("POST", "/integration/stakeholders/{stakeholder_id}/proposal/reject"): Op(
        STAFF, body=lambda s: {"reason": "no licence on file"}, prepare=_propose),
    # -- administration
    ("POST", "/administration/schemes"): Op(STAFF, body=lambda s: {
        "code": f"m{_tag()}", "name": "Matrix scheme", "issuing_body": "Matrix body", "validity_years": 3,
        "covers": "Everything a matrix needs"}),
    ("GET", "/administration/schemes"): Op(ANY_KEY),
    ("GET", "/administration/schemes/{scheme_id}"): Op(ANY_KEY),
    ("POST", "/administration/accreditations"): Op(OWN, body=_accreditation, owner_in_body=True),
    ("GET", "/administration/accreditations"): Op(REGISTER),
    ("GET", "/administration/accreditations/{accreditation_id}"): Op(OWNED),
    ("PATCH", "/administration/accreditations/{accreditation_id}"): Op(STAFF, body=lambda s: {
        "evidence_url": f"https://example.org/{_tag()}"}),
    ("POST", "/administration/memberships"): Op(STAFF, body=_membership),
    ("GET", "/administration/memberships"): Op(FILTERED),
    ("GET", "/administration/memberships/{membership_id}"): Op(MEMBER),
    ("PATCH", "/administration/memberships/{membership_id}"): Op(STAFF, body=lambda s: {"tier": "premium"}),
    ("POST", "/administration/complaints"): Op(FILE_COMPLAINT, body=_complaint),
    ("GET", "/administration/complaints"): Op(FILTERED),
    ("GET", "/administration/complaints/{complaint_id}"): Op(COMPLAINT),
    ("PATCH", "/administration/complaints/{complaint_id}"): Op(STAFF, body=lambda s: {"severity": "medium"}),
    ("GET", "/administration/audit"): Op(STAFF),
    # -- development: the DMO's own planning, staff only
    ("GET", "/development/gaps"): Op(STAFF),
    ("POST", "/development/assessments"): Op(STAFF, body=_assessment),
    ("GET", "/development/assessments"): Op(STAFF),
    ("GET", "/development/assessments/{assessment_id}"): Op(STAFF),
    ("POST", "/development/initiatives"): Op(STAFF, body=_initiative),
    ("GET", "/development/initiatives"): Op(STAFF),
    ("GET", "/development/initiatives/{initiative_id}"): Op(STAFF),
    ("PATCH", "/development/initiatives/{initiative_id}"): Op(STAFF, body=lambda s: {"owner": f"Team {_tag()}"}),
    # -- promotion: campaigns are the DMO's; partners read active ones' public part (tracking codes)
    ("POST", "/promotion/campaigns"): Op(STAFF, body=_campaign),
    ("GET", "/promotion/campaigns"): Op(ANY_KEY),
    ("GET", "/promotion/campaigns/{campaign_id}"): Op(DRAFT_CAMPAIGN),
    ("PATCH", "/promotion/campaigns/{campaign_id}"): Op(STAFF, body=lambda s: {"name": f"Matrix {_tag()}"}),
    ("POST", "/promotion/campaigns/{campaign_id}/activation"): Op(COORDINATOR_ONLY, body=lambda s: {
        "action_id": f"act_{_tag()}"}),
    ("POST", "/promotion/campaigns/{campaign_id}/spend"): Op(STAFF, body=lambda s: {
        "amount": {"amount": "1.00", "currency": "EUR"}, "spent_on": "2030-01-15", "channel": "digital"}),
    ("GET", "/promotion/campaigns/{campaign_id}/spend"): Op(STAFF),
    ("GET", "/promotion/attribution"): Op(STAFF),
    # -- promotion: enquiries (a provider sees those routed to it, a facilitator its own), quotes
    ("POST", "/promotion/enquiries"): Op(FILE_ENQUIRY, body=lambda s: _enquiry()),
    ("GET", "/promotion/enquiries"): Op(FILTERED),
    ("GET", "/promotion/enquiries/{enquiry_id}"): Op(ENQUIRY),
    ("PATCH", "/promotion/enquiries/{enquiry_id}"): Op(CHANGE_ENQUIRY, body=lambda s: {
        "status": "lost", "status_reason": "The patient chose another destination"}),
    ("GET", "/promotion/enquiries/{enquiry_id}/history"): Op(ENQUIRY),
    ("DELETE", "/promotion/enquiries/{enquiry_id}/contact"): Op(CHANGE_ENQUIRY),
    ("PATCH", "/promotion/enquiries/{enquiry_id}/assignments/{stakeholder_id}"): Op(ANSWER, body=lambda s: {
        "status": "responded"}),
    ("POST", "/promotion/routing/retry"): Op(STAFF, body=lambda s: {}),
    ("GET", "/promotion/performance/providers"): Op(PERFORMANCE),
    ("POST", "/promotion/enquiries/{enquiry_id}/quotes"): Op(ISSUE_QUOTE, body=lambda s: {
        **_quote(), "stakeholder_id": s.hospital_a.id}),
    ("GET", "/promotion/enquiries/{enquiry_id}/quotes"): Op(ENQUIRY),
    ("GET", "/promotion/quotes/{quote_id}"): Op(ENQUIRY),
    ("PATCH", "/promotion/quotes/{quote_id}"): Op(CHANGE_QUOTE, body=lambda s: {"status": "sent"}),
    # -- dmo: the scorecard names providers' lapses and complaints and the DMO's spend: staff only
    ("GET", "/dmo/scorecard"): Op(STAFF),
    # -- dmo: the offer is public to every key (it names the providers in it); the rest is staff work
    ("GET", "/dmo/segments/{segment_id}/offer"): Op(OFFER),
    ("GET", "/dmo/segments/{segment_id}/readiness"): Op(ANY_KEY),
    ("GET", "/dmo/reactions"): Op(STAFF),
    ("POST", "/dmo/rebuilds"): Op(STAFF),
    ("GET", "/dmo/rebuilds"): Op(STAFF),
    # -- dmo: durable actions, staff only (each allowed POST starts one: wait for the others
    # to end first, so a denied call's "nothing changed" is not blurred by one finishing)
    ("POST", "/dmo/actions/launch-campaign"): Op(STAFF, body=_launch, prepare=_actions_idle),
    ("POST", "/dmo/actions/onboard-provider"): Op(STAFF, body=_onboarding, prepare=_actions_idle),
    ("GET", "/dmo/actions"): Op(STAFF),
    ("GET", "/dmo/actions/{action_id}"): Op(STAFF),
}

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    # Webhooks go to a receiver on this machine (allowed) and are sent at once.
    async with seeded_platform(databases, tmp_path_factory.mktemp("authz"), webhooks_allow_private=True,
                               webhooks_poll_seconds=0.2) as seeded, serving(Receiver()) as hooks:
        seeded.extra["hooks"] = hooks
        yield seeded


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item if m in METHODS}


async def test_the_table_names_every_operation_of_the_openapi(plat: Seeded) -> None:
    async with plat.client() as c:
        doc = (await c.get("/openapi.json")).json()
    served = _operations(doc)
    missing, stale = sorted(served - TABLE.keys()), sorted(TABLE.keys() - served)
    assert not missing, f"operations missing from TABLE in {__file__}: add them to the table: {missing}"
    assert not stale, f"TABLE entries no longer in the OpenAPI: remove them from the table: {stale}"


# -- calling one operation as one caller ----------------------------------------------------------

def _stakeholder_for(plat: Seeded, caller: str) -> str:
    return {"provider_other": plat.hospital_b.id, "facilitator_own": plat.agent_a.id,
            "facilitator_other": plat.agent_b.id}.get(caller, plat.hospital_a.id)


def _foreign(plat: Seeded, caller: str, public: bool) -> list[str]:
    """What an answer to this caller must never hold (unless the caller sent it itself)."""
    if caller.startswith("provider"):
        tenants = [plat.hospital_b, plat.agent_a, plat.agent_b]
    elif caller.startswith("facilitator"):
        tenants = [plat.agent_b, plat.hospital_b]
    else:
        return []
    hidden = [plat.closed.id, plat.closed.name, plat.withdrawn["id"], plat.withdrawn["name"]]
    return hidden + ([] if public else [v for t in tenants for v in (t.id, t.name)])


async def _created(plat: Seeded, path: str, body: Body) -> str:
    """The id of a record made once (as staff) for the paths that name one."""
    if path not in plat.extra:
        async with plat.client("staff") as staff:
            r = await staff.post(path, json=body(plat) if body else None)
            assert r.status_code in (201, 202), r.text  # 202: an action, started
            plat.extra[path] = r.json()["id"]
    return str(plat.extra[path])


async def _owned_record(plat: Seeded, collection: str, make: Callable[[Seeded, str], Any], caller: str,
                        verify: bool) -> str:
    """An Administration record of the stakeholder the caller's "own" or "another's" points at,
    made once by staff (accreditations verified, so they are public); complaints are filed by
    the facilitator of the same side (agent A about hospital A, agent B about hospital B)."""
    other = caller.endswith("_other")
    subject = (plat.agent_b if other else plat.agent_a) if collection == "memberships" and \
        caller.startswith("facilitator") else (plat.hospital_b if other else plat.hospital_a)
    slot = f"{collection}:{subject.id}"
    if slot not in plat.extra:
        filer = ("facilitator_b" if other else "facilitator_a") if collection == "complaints" else "staff"
        async with plat.client(filer) as c, plat.client("staff") as staff:
            r = await c.post(f"/administration/{collection}", json=make(plat, subject.id))
            assert r.status_code == 201, r.text
            if verify:
                v = await staff.patch(f"/administration/{collection}/{r.json()['id']}", json={"status": "valid"})
                assert v.status_code == 200, v.text
        plat.extra[slot] = r.json()["id"]
    return str(plat.extra[slot])


async def _new_key(plat: Seeded, name: str) -> str:
    async with plat.client("admin") as admin:
        r = await admin.post("/gateway/keys", json={"name": name, "role": "staff"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def _fill(plat: Seeded, template: str, caller: str, expected: str | int, hidden: bool) -> str:
    path = template
    if "{stakeholder_id}" in path:
        path = path.replace("{stakeholder_id}", plat.closed.id if hidden else _stakeholder_for(plat, caller))
    if "{package_id}" in path:
        path = path.replace("{package_id}", plat.withdrawn["id"] if hidden else plat.package["id"])
    if "{segment_id}" in path:
        path = path.replace("{segment_id}", plat.segment["id"])
    for name, collection, body in (("initiative", "initiatives", _initiative),
                                   ("assessment", "assessments", _assessment)):
        if "{" + name + "_id}" in path:
            path = path.replace("{" + name + "_id}", await _created(plat, f"/development/{collection}", body))
    if "{action_id}" in path:
        path = path.replace("{action_id}", await _created(plat, "/dmo/actions/launch-campaign", _launch))
    if "{scheme_id}" in path:
        path = path.replace("{scheme_id}", "sch_jci")
    if "{campaign_id}" in path:  # a draft: partners must not learn it exists
        path = path.replace("{campaign_id}", await _created(plat, "/promotion/campaigns", _campaign))
    for name, collection, make, verify in (("accreditation", "accreditations", _accreditation, True),
                                           ("membership", "memberships", _membership, False),
                                           ("complaint", "complaints", _complaint, False)):
        if "{" + name + "_id}" in path:
            path = path.replace("{" + name + "_id}", await _owned_record(plat, collection, make, caller, verify))
    for name in ("enquiry", "quote"):
        if "{" + name + "_id}" in path:
            path = path.replace("{" + name + "_id}", await _promotion_record(plat, template, name, caller))
    if "{webhook_id}" in path:
        webhook_id, delivery_id = await _webhook_record(plat, template, caller, expected)
        path = path.replace("{webhook_id}", webhook_id).replace("{delivery_id}", delivery_id)
    if "{key_id}" in path:  # an allowed revocation revokes a key of its own; a denied one is tried on a victim
        if expected in (OK, PUB):
            key_id = await _new_key(plat, "matrix throwaway")
        else:
            key_id = plat.extra.get("victim") or await _new_key(plat, "matrix victim")
            plat.extra["victim"] = key_id
        path = path.replace("{key_id}", key_id)
    assert "{" not in path, f"no seeded record for a parameter of {template}: add one to tests/platform.py"
    return path


async def _webhook_record(plat: Seeded, template: str, caller: str, expected: str | int) -> tuple[str, str]:
    """(subscription, one of its deliveries, delivered): the caller's own key's, or for "another's"
    callers (and those with no valid key) hospital B's or agent B's, to ``stakeholder.updated`` of
    their own stakeholder, which nothing else in the matrix changes (so a denied call's "nothing
    changed" is not blurred by a new delivery). An allowed DELETE gets a throwaway one."""
    owner = {"anon": "provider_b", "revoked": "provider_b", "provider_other": "provider_b",
             "facilitator_other": "facilitator_b"}.get(caller) or str(KEY_OF[caller])
    about = {"provider_a": plat.hospital_a.id, "provider_b": plat.hospital_b.id, "facilitator_a": plat.agent_a.id,
             "facilitator_b": plat.agent_b.id}.get(owner, plat.hotel.id)
    slot = f"webhook:{owner}"
    throwaway = template.endswith("{webhook_id}") and expected in (OK, PUB)
    if throwaway or slot not in plat.extra:
        async with plat.client(owner) as c, plat.client("admin") as admin:
            r = await c.post("/gateway/webhooks", json={"url": f"{plat.extra['hooks']}/{owner}",
                                                       "events": ["stakeholder.updated"]})
            assert r.status_code == 201, r.text
            webhook_id = r.json()["id"]
            if throwaway:
                return webhook_id, ""
            r = await admin.patch(f"/integration/stakeholders/{about}", json={"city": f"Pula {_tag()}"})
            assert r.status_code == 200, r.text
            for _ in range(1200):
                items = (await c.get(f"/gateway/webhooks/{webhook_id}/deliveries")).json()["items"]
                if items and all(d["status"] == "delivered" for d in items):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"no delivery to {owner}'s subscription: {items}")
        plat.extra[slot] = (webhook_id, items[0]["id"])
    webhook_id, delivery_id = plat.extra[slot]
    return str(webhook_id), str(delivery_id)


async def _promotion_setup(plat: Seeded) -> None:
    """Hospitals A and B accredited; B with capacity on days 20..22 only (A has days 1..3)."""
    if plat.extra.get("promotion_setup"):
        return
    async with plat.client("admin") as admin:
        for hospital in (plat.hospital_a, plat.hospital_b):
            r = await admin.post("/administration/accreditations", json=_accreditation(plat, hospital.id))
            assert r.status_code == 201, r.text
            v = await admin.patch(f"/administration/accreditations/{r.json()['id']}", json={"status": "valid"})
            assert v.status_code == 200, v.text
        r = await admin.post(f"/integration/stakeholders/{plat.hospital_b.id}/capacity", json={"rows": [
            {"specialty": plat.specialty, "date": day(d), "slots_total": 8, "slots_available": 3}
            for d in (20, 21, 22)]})
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    plat.extra["promotion_setup"] = True


async def _promotion_record(plat: Seeded, template: str, name: str, caller: str) -> str:
    """An enquiry (or a sent quote on one) made for this operation alone: agent A's routed to
    hospital A for "own" callers, agent B's routed to hospital B for "another's"."""
    await _promotion_setup(plat)
    side = "b" if caller.endswith("_other") else "a"
    slot = f"promotion:{template}:{name}:{side}"
    if slot not in plat.extra:
        hospital = plat.hospital_b if side == "b" else plat.hospital_a
        body = {**_enquiry(), **({"preferred_from": day(20), "preferred_to": day(22)} if side == "b" else {})}
        async with plat.client(f"facilitator_{side}") as fac, plat.client(f"provider_{side}") as prov:
            r = await fac.post("/promotion/enquiries", json=body)
            assert r.status_code == 201 and [a["stakeholder_id"] for a in r.json()["assignments"]] == [hospital.id], \
                r.text
            record = r.json()["id"]
            if name == "quote":
                q = await prov.post(f"/promotion/enquiries/{record}/quotes", json={**_quote(), "status": "sent"})
                assert q.status_code == 201, q.text
                record = q.json()["id"]
        plat.extra[slot] = record
    return str(plat.extra[slot])


LISTS = {"/gateway/keys", "/gateway/webhooks", "/segmentation/specialties", "/segmentation/segments",
         "/integration/stakeholders",
         "/integration/stakeholders/{stakeholder_id}/capacity", "/integration/packages",
         "/development/initiatives", "/development/assessments", "/administration/schemes",
         "/administration/accreditations", "/administration/memberships", "/administration/complaints",
         "/promotion/campaigns", "/promotion/campaigns/{campaign_id}/spend"}


async def _state(plat: Seeded, template: str, path: str) -> tuple[int | None, Any]:
    """What a write could change: the service's feed position and the record (or list) it names."""
    service = template.split("/")[1]
    head = await plat.feed_head(service) if service in SIX else None
    while template and ("GET", template) not in TABLE:  # e.g. DELETE /gateway/keys/{key_id}: the list of keys
        template, path = template.rsplit("/", 1)[0], path.rsplit("/", 1)[0]
    if not template:  # an action with nothing to read back (POST /promotion/routing/retry): the feed says it all
        return head, None
    async with plat.client("admin") as admin:
        r = await admin.get(path, params={"limit": 500} if template in LISTS else None)
    assert r.status_code == 200, (path, r.text)
    return head, r.json()


async def _call(plat: Seeded, method: str, template: str, op: Op, caller: str, expected: str | int,
                hidden: bool = False) -> str | None:
    """Makes the call; returns what is wrong with the answer, or None."""
    path = await _fill(plat, template, caller, expected, hidden)
    if op.prepare:
        await op.prepare(plat)
    if op.body is None:
        body = None
    else:
        body = op.body(plat, _stakeholder_for(plat, caller)) if op.owner_in_body else op.body(plat)
    denied_write = method != "GET" and expected not in (OK, PUB)
    before = await _state(plat, template, path) if denied_write else None
    async with plat.client(KEY_OF[caller]) as c:
        r = await c.request(method, path, params=op.query, json=body)
    label = f"{caller}: {method} {path} -> {r.status_code}"
    if expected in (OK, PUB):
        if not 200 <= r.status_code < 300:
            return f"{label}, expected a 2xx answer: {r.text[:300]}"
    else:
        if r.status_code != expected:
            return f"{label}, expected {expected}: {r.text[:300]}"
        if r.headers.get("content-type") != "application/problem+json":
            return f"{label}: a denial must be application/problem+json, not {r.headers.get('content-type')}"
    sent = str(r.request.url) + json.dumps(body or {})
    for marker in _foreign(plat, caller, public=expected == PUB):
        if marker not in sent and marker in r.text:
            return f"{label}: the answer holds another tenant's or a hidden record's {marker!r}: {r.text[:300]}"
    if before is not None:
        after = await _state(plat, template, path)
        if after != before:
            return f"{label}: a denied call changed something (feed position, record): {before} -> {after}"
    return None


@pytest.mark.parametrize("operation", sorted(TABLE), ids=lambda o: f"{o[0]} {o[1]}")
async def test_every_caller_gets_what_the_table_says(plat: Seeded, operation: tuple[str, str]) -> None:
    method, template = operation
    op = TABLE[operation]
    assert len(op.expect) == len(CALLERS) and (op.hidden is None or len(op.hidden) == len(CALLERS))
    wrong = [w for caller, expected in zip(CALLERS, op.expect, strict=True)
             if (w := await _call(plat, method, template, op, caller, expected))]
    if op.hidden:
        wrong += [f"(hidden record) {w}" for caller, expected in zip(CALLERS, op.hidden, strict=True)
                  if (w := await _call(plat, method, template, op, caller, expected, hidden=True))]
    assert not wrong, "\n".join(wrong)


async def test_the_revoked_key_was_a_real_key(plat: Seeded) -> None:
    """So the 401s the table gives it are about revocation, not a typo."""
    async with plat.client("admin") as admin:
        listed = (await admin.get("/gateway/keys", params={"limit": 500})).json()["items"]
    assert plat.revoked_key_id not in {k["id"] for k in listed}
    assert plat.keys["revoked"].startswith("pk_") and plat.staff_key_id in {k["id"] for k in listed}
