"""Webhooks (issue 10) as a subscriber meets them: subscriptions through the gateway with real
keys of each role, deliveries to a real HTTP receiver that verifies every signature with the
Standard Webhooks library, retries, disabling, redelivery, the URL checks, tenant isolation,
and a SIGKILLed sender losing and duplicating nothing (``test_webhooks_kill.py``).

Retries are made fast by settings (a base of 50 ms), never by waiting on the clock: each test
polls for the state it expects with a generous bound.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.app import create_app as create_gateway
from gateway.webhooks import catalogue, targets
from pentad.identity import Caller, Role
from tests.platform import Seeded, day, seeded_platform
from tests.support import serving, settings_for

FAST = {"webhooks_allow_private": True, "webhooks_poll_seconds": 0.2, "webhooks_retry_base_seconds": 0.05,
        "webhooks_retry_max_delay_seconds": 0.2, "webhooks_disable_after_hours": 0,
        "webhooks_disable_after_failures": 6, "webhooks_timeout_seconds": 5}


# -- the receiver ---------------------------------------------------------------------------------

@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]

    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A real HTTP server: each path is one endpoint. ``failing[path]``: how many requests to
    answer 500 before answering 204 (-1: always 500). ``gate`` cleared: requests are held
    until it is set; one whose sender disconnects meanwhile is never acknowledged."""

    got: dict[str, list[Received]] = field(default_factory=dict)  # every request
    acked: dict[str, list[Received]] = field(default_factory=dict)  # those answered 2xx
    failing: dict[str, int] = field(default_factory=dict)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self.gate.set()

    def endpoint(self, name: str = "") -> tuple[str, str]:
        path = f"/{name or 'hook'}-{uuid.uuid4().hex[:8]}"
        self.got[path], self.acked[path] = [], []
        return path, self.url + path

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        received = Received({k.decode(): v.decode() for k, v in scope["headers"]}, body)
        self.got.setdefault(path, []).append(received)
        if not self.gate.is_set():
            self.held += 1
            gone = asyncio.ensure_future(receive())  # completes with http.disconnect if the sender dies
            opened = asyncio.ensure_future(self.gate.wait())
            await asyncio.wait([gone, opened], return_when=asyncio.FIRST_COMPLETED)
            self.held -= 1
            if gone.done():
                opened.cancel()
                return
            gone.cancel()
        failing = self.failing.get(path, 0)
        status = 500 if failing == -1 or len(self.got[path]) <= failing else 204
        if status == 204:
            self.acked.setdefault(path, []).append(received)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    async with serving(r) as url:
        r.url = url
        yield r


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with seeded_platform(databases, tmp_path_factory.mktemp("webhooks"), **FAST) as seeded:
        yield seeded


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 60) -> Any:
    """Polls ``check`` until it returns something true; fails naming ``what`` after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if value := await check():
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def subscribe(plat: Seeded, who: str, url: str, events: list[str]) -> dict[str, Any]:
    async with plat.client(who) as c:
        r = await c.post("/gateway/webhooks", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def deliveries(plat: Seeded, who: str, webhook_id: str) -> list[dict[str, Any]]:
    async with plat.client(who) as c:
        r = await c.get(f"/gateway/webhooks/{webhook_id}/deliveries", params={"limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def verified(secret: str, received: list[Received]) -> list[dict[str, Any]]:
    """Every message checked by the Standard Webhooks library; their events."""
    hook = Webhook(secret)
    return [dict(hook.verify(r.body, r.headers)) for r in received]


async def new_segment(plat: Seeded) -> str:
    async with plat.client("staff") as staff:
        r = await staff.post("/segmentation/segments", json={
            "name": f"Webhook segment {uuid.uuid4().hex[:8]}", "family": "medical", "specialties": [plat.specialty],
            "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to",
            "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# -- subscribing ----------------------------------------------------------------------------------

async def test_a_delivery_is_signed_per_standard_webhooks_and_logged(plat: Seeded, receiver: Receiver) -> None:
    path, url = receiver.endpoint()
    sub = await subscribe(plat, "provider_a", url, ["capacity.updated"])
    assert sub["secret"].startswith("whsec_") and sub["status"] == "active" and sub["events"] == ["capacity.updated"]
    async with plat.client("provider_a") as provider:
        r = await provider.post(f"/integration/stakeholders/{plat.hospital_a.id}/capacity", json={"rows": [
            {"specialty": plat.specialty, "date": day(9), "slots_total": 5, "slots_available": 5}]})
        assert r.status_code == 200, r.text
        listed = (await provider.get("/gateway/webhooks")).json()["items"]
    await until(lambda: asyncio.sleep(0, receiver.acked[path]), "the capacity event")
    (event,) = verified(sub["secret"], receiver.acked[path])
    assert event["type"] == "capacity.updated" and event["data"]["stakeholder_id"] == plat.hospital_a.id
    assert event["specversion"] == "1.0" and event["source"] == "/pentad/integration"
    with pytest.raises(WebhookVerificationError):  # a tampered body fails the same library
        Webhook(sub["secret"]).verify(receiver.acked[path][0].body + b" ", receiver.acked[path][0].headers)
    (delivery,) = await until(lambda: _settled(plat, "provider_a", sub["id"]), "the delivery marked delivered")
    assert delivery["id"] == receiver.acked[path][0].msg_id and delivery["status"] == "delivered"
    assert delivery["last_status_code"] == 204 and delivery["last_latency_ms"] >= 0 and delivery["attempts"] == 1
    assert [a["status_code"] for a in delivery["log"]] == [204] and delivery["payload"] == event
    # The secret is shown once: never listed.
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]


async def _settled(plat: Seeded, who: str, webhook_id: str) -> list[dict[str, Any]] | None:
    items = await deliveries(plat, who, webhook_id)
    return items if items and all(d["status"] != "pending" for d in items) else None


async def test_a_replayed_subscription_keeps_no_secret(plat: Seeded, receiver: Receiver) -> None:
    _, url = receiver.endpoint()
    body, headers = {"url": url, "events": ["segment.created"]}, {"Idempotency-Key": uuid.uuid4().hex}
    async with plat.client("facilitator_a") as c:
        first = await c.post("/gateway/webhooks", json=body, headers=headers)
        again = await c.post("/gateway/webhooks", json=body, headers=headers)
        listed = (await c.get("/gateway/webhooks", params={"limit": 500})).json()["items"]
    assert first.status_code == again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert first.json()["secret"].startswith("whsec_") and again.json()["secret"] is None
    assert {k: v for k, v in again.json().items() if k != "secret"} == \
        {k: v for k, v in first.json().items() if k != "secret"}
    assert [s["id"] for s in listed].count(first.json()["id"]) == 1


async def test_unknown_event_types_and_bad_urls_are_422_naming_them(plat: Seeded, receiver: Receiver) -> None:
    _, url = receiver.endpoint()
    async with plat.client("staff") as c:
        before = (await c.get("/gateway/webhooks", params={"limit": 500})).json()["items"]
        r = await c.post("/gateway/webhooks", json={"url": url, "events": ["enquiry.routed", "enquiry.teleported"]})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        (error,) = r.json()["errors"]
        assert error["field"] == "events.1" and error["value"] == "enquiry.teleported"
        assert "enquiry.routed" in error["message"]  # the known types are listed
        for bad in ("ftp://example.org/x", "https://user:pw@example.org/x", "not a url", "http:///nohost"):
            r = await c.post("/gateway/webhooks", json={"url": bad, "events": ["segment.created"]})
            assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["url"], (bad, r.text)
        r = await c.post("/gateway/webhooks", json={"url": url, "events": ["segment.created"], "secret": "mine"})
        assert r.status_code == 422 and "secret" in r.text
        assert (await c.get("/gateway/webhooks", params={"limit": 500})).json()["items"] == before


def test_every_published_type_is_known_and_each_role_rule_is_for_a_known_type() -> None:
    # Each literal type a service records is declared in its events module's TYPES (the
    # f-string ones, e.g. accreditation.{status}, are listed there by hand).
    services = Path(__file__).resolve().parent.parent / "services"
    recorded = {m for f in services.rglob("*.py") for m in re.findall(r'type="([a-z_]+\.[a-z_]+)"', f.read_text())}
    assert recorded and recorded <= catalogue.KNOWN, recorded - catalogue.KNOWN
    assert {"enquiry.routed", "quote.accepted", "accreditation.revoked", "capacity.updated", "segment.retired",
            "action.succeeded", "assessment.recorded", "campaign.status_changed"} <= catalogue.KNOWN
    for rules in catalogue.RULES.values():
        assert set(rules) <= catalogue.KNOWN, set(rules) - catalogue.KNOWN


# -- who receives what ----------------------------------------------------------------------------

async def _accredit(plat: Seeded) -> None:
    """Hospitals A and B accredited; B with capacity on days 20..22 (A has 1..3): an enquiry of
    agent A for days 1..3 is routed to A only, one of agent B for days 20..22 to B only."""
    async with plat.client("admin") as admin:
        for hospital in (plat.hospital_a, plat.hospital_b):
            r = await admin.post("/administration/accreditations", json={
                "stakeholder_id": hospital.id, "scheme_id": "sch_jci", "certificate_no": f"JCI-{uuid.uuid4().hex[:8]}",
                "issued_on": "2026-01-05", "evidence_url": "https://example.org/c"})
            assert r.status_code == 201, r.text
            r = await admin.patch(f"/administration/accreditations/{r.json()['id']}", json={"status": "valid"})
            assert r.status_code == 200, r.text
        r = await admin.post(f"/integration/stakeholders/{plat.hospital_b.id}/capacity", json={"rows": [
            {"specialty": plat.specialty, "date": day(d), "slots_total": 8, "slots_available": 3}
            for d in (20, 21, 22)]})
        assert r.status_code == 200, r.text


async def _enquire(plat: Seeded, side: str) -> dict[str, Any]:
    days = (1, 3) if side == "a" else (20, 22)
    async with plat.client(f"facilitator_{side}") as c:
        r = await c.post("/promotion/enquiries", json={
            "specialty": plat.specialty, "source_market": "GB", "preferred_from": day(days[0]),
            "preferred_to": day(days[1]), "languages": ["en"],
            "contact": {"name": "Webhook Patient", "email": "webhook.patient@example.org"},
            "consent": {"given_at": "2026-01-01T09:00:00Z", "scope": ["routing", "quotes"]}})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_each_key_receives_only_what_it_may_read(plat: Seeded, receiver: Receiver) -> None:
    types = sorted(catalogue.KNOWN)  # everything: the rules decide what arrives
    subs = {}
    for who in ("staff", "provider_a", "provider_b", "facilitator_a", "facilitator_b"):
        path, url = receiver.endpoint(who)
        subs[who] = (path, await subscribe(plat, who, url, types))
    await _accredit(plat)
    enquiry_a, enquiry_b = await _enquire(plat, "a"), await _enquire(plat, "b")
    assert [a["stakeholder_id"] for a in enquiry_a["assignments"]] == [plat.hospital_a.id]
    assert [a["stakeholder_id"] for a in enquiry_b["assignments"]] == [plat.hospital_b.id]
    async with plat.client("provider_b") as hospital_b:
        r = await hospital_b.post(f"/promotion/enquiries/{enquiry_b['id']}/quotes", json={
            "items": [{"description": "Knee replacement", "amount_minor": 520000, "currency": "EUR"}],
            "valid_until": day(30), "status": "sent"})
        assert r.status_code == 201, r.text
    # An event is fanned out to every subscription in one transaction: once staff has each event
    # made here, the others have their deliveries for it; then wait for those to be sent.
    staff_path = subs["staff"][0]
    wanted = {("accreditation.verified", plat.hospital_a.id), ("accreditation.verified", plat.hospital_b.id),
              ("enquiry.routed", enquiry_a["id"]), ("enquiry.routed", enquiry_b["id"]), ("quote.sent", enquiry_b["id"])}

    def seen() -> set[tuple[str, str]]:
        return {(e["type"], e["data"].get("enquiry_id") or e["data"].get("stakeholder_id"))
                for e in (r.event() for r in receiver.acked[staff_path])}

    await until(lambda: asyncio.sleep(0, wanted <= seen()), "every event at staff's endpoint")
    for who, (_, sub) in subs.items():
        await until(lambda who=who, sub=sub: _settled(plat, who, sub["id"]), f"{who}'s deliveries settled")
    got = {who: verified(sub["secret"], receiver.acked[path]) for who, (path, sub) in subs.items()}

    def about(who: str) -> set[tuple[str, str]]:
        return {(e["type"], e["subject"]) for e in got[who]}

    # Staff receives everything, the other tenants' enquiries included.
    assert {("enquiry.routed", enquiry_a["id"]), ("enquiry.routed", enquiry_b["id"])} <= about("staff")
    # Each provider: the enquiry routed to it (its own assignment only, no facilitator), its accreditation.
    for who, mine, theirs, hospital in (("provider_a", enquiry_a, enquiry_b, plat.hospital_a),
                                        ("provider_b", enquiry_b, enquiry_a, plat.hospital_b)):
        assert ("enquiry.routed", mine["id"]) in about(who) and ("enquiry.created", mine["id"]) not in about(who)
        assert all(theirs["id"] not in json.dumps(e) for e in got[who]), who
        for e in got[who]:
            assert "facilitator_id" not in e["data"], e
            assert set(e["data"].get("stakeholder_ids", [hospital.id])) == {hospital.id}, e
            assert hospital.id in json.dumps(e["data"]), e  # about itself, nothing else
        assert {"accreditation.verified", "enquiry.routed"} <= {e["type"] for e in got[who]}
    assert ("quote.sent", enquiry_b["id"]) not in {(e["type"], e["data"].get("enquiry_id")) for e in got["provider_a"]}
    assert "quote.sent" in {e["type"] for e in got["provider_b"]}
    # Each facilitator: its own enquiry and the quotes on it; never the other's; the offer's segments.
    for who, mine, theirs in (("facilitator_a", enquiry_a, enquiry_b), ("facilitator_b", enquiry_b, enquiry_a)):
        assert {("enquiry.created", mine["id"]), ("enquiry.routed", mine["id"])} <= about(who)
        assert all(theirs["id"] not in json.dumps(e) for e in got[who]), who
        assert not {e["type"] for e in got[who]} & {"accreditation.verified", "capacity.updated", "campaign.created"}
    assert "quote.sent" in {e["type"] for e in got["facilitator_b"]}
    assert "quote.sent" not in {e["type"] for e in got["facilitator_a"]}
    # No patient contact data in any event, whoever receives it.
    assert all("webhook.patient" not in r.body.decode() for received in receiver.got.values() for r in received)


async def test_another_keys_subscription_is_404_and_admin_sees_all(plat: Seeded, receiver: Receiver) -> None:
    _, url = receiver.endpoint()
    sub_b = await subscribe(plat, "provider_b", url, ["capacity.updated"])
    async with plat.client("provider_a") as a, plat.client("admin") as admin:
        for method, path in (("GET", f"/gateway/webhooks/{sub_b['id']}/deliveries"),
                             ("DELETE", f"/gateway/webhooks/{sub_b['id']}"),
                             ("POST", f"/gateway/webhooks/{sub_b['id']}/deliveries/msg_x/redeliver")):
            r = await a.request(method, path)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", (path, r.text)
        assert sub_b["id"] not in {s["id"] for s in (await a.get("/gateway/webhooks", params={"limit": 500})).json()[
            "items"]}
        assert sub_b["id"] in {s["id"] for s in (await admin.get("/gateway/webhooks", params={"limit": 500})).json()[
            "items"]}
    async with plat.client("provider_b") as b:
        assert (await b.delete(f"/gateway/webhooks/{sub_b['id']}")).status_code == 204
        assert (await b.get(f"/gateway/webhooks/{sub_b['id']}/deliveries")).status_code == 404


async def test_a_revoked_keys_subscriptions_stop(plat: Seeded, receiver: Receiver) -> None:
    async with plat.client("admin") as admin:
        made = (await admin.post("/gateway/keys", json={"name": "webhook leaver", "role": "staff"})).json()
        plat.keys["leaver"] = made["key"]
        gone_path, gone_url = receiver.endpoint("revoked")
        await subscribe(plat, "leaver", gone_url, ["segment.created"])
        witness_path, witness_url = receiver.endpoint("witness")
        await subscribe(plat, "staff", witness_url, ["segment.created"])
        assert (await admin.delete(f"/gateway/keys/{made['id']}")).status_code == 204
    segment_id = await new_segment(plat)
    await until(lambda: asyncio.sleep(0, [r for r in receiver.acked[witness_path]
                                          if r.event()["subject"] == segment_id]), "the segment at the witness")
    await asyncio.sleep(0.5)  # a few sender turns (0.05 s each): nothing may arrive (no timing assert)
    assert receiver.got[gone_path] == []


# -- failing receivers ----------------------------------------------------------------------------

async def test_failures_are_retried_with_back_off_until_the_receiver_recovers(plat: Seeded,
                                                                             receiver: Receiver) -> None:
    path, url = receiver.endpoint("flaky")
    receiver.failing[path] = 3
    sub = await subscribe(plat, "admin", url, ["segment.created"])
    await new_segment(plat)
    (delivery,) = await until(lambda: _settled(plat, "admin", sub["id"]), "the delivery after retries")
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["log"]] == [204, 500, 500, 500]  # latest first
    assert len({r.msg_id for r in receiver.got[path]}) == 1 and len(receiver.acked[path]) == 1
    verified(sub["secret"], receiver.got[path])  # every attempt signed anew, all valid
    async with plat.client("admin") as admin:
        listed = {s["id"]: s for s in (await admin.get("/gateway/webhooks", params={"limit": 500})).json()["items"]}
    assert listed[sub["id"]]["status"] == "active"  # 3 failures in a row < 6


async def test_sustained_failure_disables_and_redelivery_recovers(plat: Seeded, receiver: Receiver) -> None:
    path, url = receiver.endpoint("down")
    receiver.failing[path] = -1
    sub = await subscribe(plat, "staff", url, ["segment.created"])
    await new_segment(plat)

    async def disabled() -> dict[str, Any] | None:
        async with plat.client("staff") as c:
            items = (await c.get("/gateway/webhooks", params={"limit": 500})).json()["items"]
        return next((s for s in items if s["id"] == sub["id"] and s["status"] == "disabled"), None)

    off = await until(disabled, "the subscription disabled")
    assert "6 attempts in a row failed" in off["disabled_reason"]
    attempts = len(receiver.got[path])
    await new_segment(plat)  # not fanned out to a disabled subscription, nor retried
    await asyncio.sleep(0.5)
    assert len(receiver.got[path]) == attempts
    (delivery,) = await deliveries(plat, "staff", sub["id"])
    receiver.failing[path] = 0  # fixed
    async with plat.client("staff") as c:
        r = await c.post(f"/gateway/webhooks/{sub['id']}/deliveries/{delivery['id']}/redeliver")
        assert r.status_code == 202 and r.json()["status"] == "pending", r.text
        r = await c.post(f"/gateway/webhooks/{sub['id']}/deliveries/msg_nope/redeliver")
        assert r.status_code == 404, r.text
    await until(lambda: asyncio.sleep(0, receiver.acked[path]), "the redelivered event")
    assert receiver.acked[path][0].msg_id == delivery["id"]  # the same webhook-id: receivers deduplicate
    (done,) = await until(lambda: _settled(plat, "staff", sub["id"]), "the redelivery recorded")
    assert done["status"] == "delivered"
    assert (await disabled()) is None  # active again
    # A delivered one may be sent again too.
    async with plat.client("staff") as c:
        assert (await c.post(f"/gateway/webhooks/{sub['id']}/deliveries/{delivery['id']}/redeliver")).status_code == 202
    await until(lambda: asyncio.sleep(0, len(receiver.acked[path]) == 2), "the second redelivery")
    verified(sub["secret"], receiver.acked[path])


# -- where webhooks may go ------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data",
                                 "http://10.1.2.3/x", "http://192.168.1.1/x", "http://[::1]:9/x",
                                 "http://[::ffff:127.0.0.1]/x", "http://localhost:9/x", "http://0.0.0.0/x",
                                 "http://100.64.0.1/x", "https://[fe80::1]/x",
                                 # IPv4 inside IPv6: NAT64 (169.254.169.254, 10.0.0.1), 6to4, Teredo
                                 "http://[64:ff9b::a9fe:a9fe]/x", "http://[64:ff9b::a00:1]/x",
                                 "http://[64:ff9b:1::5db8:d822]/x", "http://[2002:a9fe:a9fe::1]/x",
                                 "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/x"])
async def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(targets.Refused):
        await targets.resolve(url, allow_private=False)
    assert (await targets.resolve(url, allow_private=True)).url == url


async def test_a_public_ipv4_inside_ipv6_is_public() -> None:
    # NAT64 and 6to4 of 93.184.216.34: where they lead is public
    for url in ("http://[64:ff9b::5db8:d822]/x", "http://[2002:5db8:d822::1]/x"):
        assert (await targets.resolve(url, allow_private=False)).url == url


async def test_a_public_address_is_pinned_with_its_host_kept() -> None:
    target = await targets.resolve("https://93.184.216.34:8443/hook?x=1", allow_private=False)
    assert target.url == "https://93.184.216.34:8443/hook?x=1" and target.host_header == "93.184.216.34:8443"


async def test_a_name_re_pointed_after_subscribing_is_refused_at_send_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name was public when checked, resolves to loopback when sending."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def resolver(host: str) -> list[Any]:
        import ipaddress
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(targets, "addresses", resolver)
    first = await targets.resolve("https://hooks.example.org/x", allow_private=False)
    assert first.url == "https://93.184.216.34/x" and first.host_header == "hooks.example.org" \
        and first.tls_name == "hooks.example.org"
    with pytest.raises(targets.Refused, match=r"127\.0\.0\.1"):
        await targets.resolve("https://hooks.example.org/x", allow_private=False)


async def test_a_gateway_not_allowing_private_addresses_refuses_them(databases: Any, tmp: Any,
                                                                    plat: Seeded) -> None:
    async with AsyncExitStack() as stack:
        settings = settings_for("gateway", await databases.new("gateway"), tmp,
                                service_urls=plat.platform.service_urls, webhooks_poll_seconds=0)
        url = await stack.enter_async_context(serving(create_gateway(settings)))
        key = (tmp / "admin.key").read_text().strip()
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            for target in ("http://127.0.0.1:9/x", "http://169.254.169.254/", "http://10.0.0.7/", "http://[::1]/",
                           "http://localhost/x"):
                r = await c.post("/gateway/webhooks", json={"url": target, "events": ["segment.created"]})
                assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url", (target, r.text)
                assert "public addresses" in r.json()["errors"][0]["message"]
            assert (await c.get("/gateway/webhooks")).json()["items"] == []


def test_views_follow_the_api_rules() -> None:
    """The pure rule table, case by case (the HTTP test above proves it end to end)."""
    a, b = Caller("k1", Role.provider, "stk_a"), Caller("k2", Role.facilitator, "stk_f")
    routed = {"enquiry_id": "enq_1", "facilitator_id": "stk_f", "stakeholder_ids": ["stk_a", "stk_b"]}
    assert catalogue.view(a, "enquiry.routed", routed) == {"enquiry_id": "enq_1", "stakeholder_ids": ["stk_a"]}
    assert catalogue.view(Caller("k3", Role.provider, "stk_c"), "enquiry.routed", routed) is None
    assert catalogue.view(b, "enquiry.routed", routed) == routed
    assert catalogue.view(Caller("k4", Role.facilitator, "stk_g"), "enquiry.routed", routed) is None
    complaint = {"complaint_id": "cmp_1", "stakeholder_id": "stk_a", "filed_by": "stk_f"}
    assert catalogue.view(a, "complaint.opened", complaint) == {"complaint_id": "cmp_1", "stakeholder_id": "stk_a"}
    assert catalogue.view(b, "complaint.opened", complaint) == complaint
    assert catalogue.view(a, "campaign.created", {"campaign_id": "c"}) is None
    assert catalogue.view(b, "fx_rates.replaced", {"base": "EUR"}) is None
    assert catalogue.view(Caller("k5", Role.staff), "fx_rates.replaced", {"base": "EUR"}) == {"base": "EUR"}
    assert catalogue.view(Caller("k6", Role.provider, None), "capacity.updated", {"stakeholder_id": None}) is None
    withdrawn = {"package_id": "pkg_1", "name": "Knee", "status": "withdrawn", "reason": "x",
                 "stakeholder_ids": ["stk_a", "stk_closed"]}
    assert catalogue.view(b, "package.withdrawn", withdrawn) == {"package_id": "pkg_1", "status": "withdrawn"}
    assert catalogue.view(a, "package.withdrawn", withdrawn) == {"package_id": "pkg_1", "status": "withdrawn"}
    assert catalogue.view(Caller("k7", Role.provider, "stk_z"), "package.withdrawn", withdrawn) is None
