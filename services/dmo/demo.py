"""Demo destination, the coordinator's part: what its actions and reactions did in Kvarner.

Loaded last, through the gateway, after every pillar's part:

- **a launch that succeeded**: "Knees and hips in Kvarner", whose DACH joint-replacement
  segment is ready, launched through ``POST /dmo/actions/launch-campaign``: now active;
- **a launch refused with reasons**: "Smile in Rijeka", whose dental segment is short of its
  threshold: the action ends ``failed`` with the reasons and the campaign stays a draft;
- **an onboarding**: the Lošinj dental implant centre registered, its Temos evidence
  submitted (waiting for staff to verify it) and its membership opened, as one action;
- **a reaction to an accreditation that lapsed**: the ministry suspended the national licence
  of the Adriatic Smile Dental Studio, its only accreditation that counts (its GHA evidence is
  still unverified): the coordinator records ``provider.left_offer``. The dental segment was
  not ready anyway, so no campaign is paused; the joint-replacement segment is untouched.
- then Promotion's forty enquiries (``load_enquiries``), every fourth British one carrying the
  launched campaign's tracking code. They come after the suspension on purpose: they are
  routed against the destination as the demo leaves it, so the coordinator's reaction never
  re-routes a demo enquiry under the load, and a resumed load replays them unchanged.

Restart-safe like the rest of the demo: every create carries an ``Idempotency-Key`` (a
replay answers the same action, which has ended or ends by itself in the background), the
suspension is made only while the licence is still valid, and every wait is bounded; a wait
that runs out is an ``httpx`` error, so the launcher tries the whole load again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import structlog

from services.integration.demo import STAKEHOLDERS
from services.promotion.demo import KNEES, SMILE
from services.promotion.demo_enquiries import load_enquiries

log = structlog.get_logger("pentad.demo.dmo")

LAUNCH_KEYS = {KNEES: "demo:launch:knees-and-hips", SMILE: "demo:launch:smile-in-rijeka"}
LAPSED = ("dental2", "sch_national_licence")  # (stakeholder slug, scheme) of the suspended licence
SUSPENSION_REASON = "Licence suspended by the Ministry of Health pending an inspection of the sterilisation room."
CLINIC = {"kind": "dental", "name": "Lošinj Dental Implant Centre", "country": "HR", "city": "Mali Lošinj",
          "languages": ["hr", "en", "it"], "specialties": ["dental_implantology"]}
ONBOARDED = 1  # stakeholders this part adds to Integration's register
WAIT = 60.0  # seconds for an action to end or a reaction to be carried out
_POLL = 0.2


class DemoWaitTimeout(httpx.TimeoutException):
    """A bounded wait ran out: an httpx error, so the launcher retries the load."""


async def _ok(r: httpx.Response) -> dict[str, Any]:
    r.raise_for_status()
    return dict(r.json())


async def _campaigns_by_name(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    page = await _ok(await client.get("/promotion/campaigns", params={"limit": 500}))
    return {c["name"]: c for c in page["items"]}


async def act(client: httpx.AsyncClient, kind: str, body: dict[str, Any], *, key: str) -> dict[str, Any]:
    """Start a coordinator action (or replay the one this key started) and wait for it to end."""
    action = await _ok(await client.post(f"/dmo/actions/{kind}", json=body, headers={"Idempotency-Key": key}))
    deadline = asyncio.get_running_loop().time() + WAIT
    while action["status"] == "running":
        if asyncio.get_running_loop().time() > deadline:
            raise DemoWaitTimeout(f"action {action['id']} ({kind}) still running after {WAIT:.0f} s")
        await asyncio.sleep(_POLL)
        action = await _ok(await client.get(f"/dmo/actions/{action['id']}"))
    log.info("demo.action_ended", kind=kind, action_id=action["id"], status=action["status"])
    return action


async def _launch(client: httpx.AsyncClient, campaign: dict[str, Any], *, expected: str) -> None:
    action = await act(client, "launch-campaign", {"campaign_id": campaign["id"]}, key=LAUNCH_KEYS[campaign["name"]])
    if action["status"] != expected:  # not a network fault: retrying the same key would replay it
        log.warning("demo.launch_unexpected", campaign=campaign["name"], status=action["status"],
                    reasons=action["reasons"])


async def _onboard(client: httpx.AsyncClient, today: date) -> None:
    body = {"stakeholder": CLINIC,
            "accreditation": {"scheme_id": "sch_temos", "certificate_no": "TEMOS-HR-0102",
                              "issued_on": (today - timedelta(days=20)).isoformat(),
                              "evidence_url": "https://evidence.kvarner-health.example/TEMOS-HR-0102.pdf"},
            "membership": {"tier": "standard", "dues": {"amount": "2400.00", "currency": "EUR"}}}
    await act(client, "onboard-provider", body, key=f"demo:onboard:losinj-dental:{today}")


async def _stakeholder_id(client: httpx.AsyncClient, slug: str) -> str | None:
    name = next(body["name"] for s, body, _ in STAKEHOLDERS if s == slug)
    page = await _ok(await client.get("/integration/stakeholders", params={"limit": 500}))
    return next((s["id"] for s in page["items"] if s["name"] == name), None)


async def _suspend_licence(client: httpx.AsyncClient) -> str | None:
    """Suspend the studio's licence (once: only while it is valid); the studio's id."""
    slug, scheme = LAPSED
    stakeholder_id = await _stakeholder_id(client, slug)
    if stakeholder_id is None:
        return None
    page = await _ok(await client.get("/administration/accreditations",
                                      params={"stakeholder_id": stakeholder_id, "limit": 500}))
    for accreditation in page["items"]:
        if accreditation["scheme_id"] == scheme and accreditation["status"] in ("valid", "expiring"):
            await _ok(await client.patch(f"/administration/accreditations/{accreditation['id']}",
                                         json={"status": "suspended", "reason": SUSPENSION_REASON}))
    return stakeholder_id


async def _reaction_done(client: httpx.AsyncClient, stakeholder_id: str) -> None:
    """Wait until the coordinator has recorded and carried out its reaction to the lapse."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        page = await _ok(await client.get("/dmo/reactions", params={"kind": "provider.left_offer", "limit": 500}))
        if any(r["stakeholder_id"] == stakeholder_id and r["status"] != "pending" for r in page["items"]):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise DemoWaitTimeout(f"no reaction to the lapsed licence of {stakeholder_id} after {WAIT:.0f} s")
        await asyncio.sleep(_POLL)


async def load(client: httpx.AsyncClient) -> None:
    today = datetime.now(UTC).date()
    campaigns = await _campaigns_by_name(client)
    if KNEES in campaigns:
        await _launch(client, campaigns[KNEES], expected="succeeded")
    if SMILE in campaigns:
        await _launch(client, campaigns[SMILE], expected="failed")
    await _onboard(client, today)
    if studio := await _suspend_licence(client):
        await _reaction_done(client, studio)
    knees = (await _campaigns_by_name(client)).get(KNEES)
    await load_enquiries(client, tracking_code=knees["tracking_code"] if knees else None)
