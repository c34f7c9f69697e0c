"""Demo destination, Promotion part (enquiries): forty prospective patients of two facilitators
(MediJourney UK and the Italian insurer Salute Nord) across the whole funnel, quotes in EUR
and GBP, and one assignment whose response deadline has passed.

Loaded after Integration's and Administration's parts, through the gateway, as staff: the
enquiries name their facilitator, and the quotes their provider (a provider's quote entered
by the DMO). Every create carries an ``Idempotency-Key`` and its body depends only on the
day, and every later step is one that changes nothing when taken again, so a load cut short
is finished by running it again, without duplicates. Patients and their contact data are
invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.integration.demo import STAKEHOLDERS

# Who files, for which specialties, from which market, speaking what.
FACILITATORS = {
    "agent": ("GB", ["en"], ["orthopaedics", "dental_implantology", "cosmetic_dentistry", "fertility_ivf"]),
    "insurer": ("IT", ["it", "en"], ["rehabilitation", "cardiology", "spa_therapies", "orthopaedics"]),
}
# Where each of the forty stops: 4 new (nobody speaks the patient's language), 8 routed (one of
# them past its deadline), 6 responded, 8 quoted, 6 booked, 5 treated, 3 lost.
STAGES = (["new"] * 4 + ["routed"] * 8 + ["responded"] * 6 + ["quoted"] * 8 + ["booked"] * 6 + ["treated"] * 5
          + ["lost"] * 3)
BREACHED = 4  # the first routed one: its provider has not answered in time
PRICES_MINOR = {"orthopaedics": 640000, "dental_implantology": 310000, "cosmetic_dentistry": 180000,
                "fertility_ivf": 450000, "rehabilitation": 260000, "cardiology": 720000, "spa_therapies": 90000}
LOST_REASONS = ("The patient chose a clinic at home after all.", "Travel dates did not work out.",
                "The insurer declined to cover the treatment abroad.")


@dataclass(frozen=True)
class Plan:
    n: int
    facilitator: str  # slug of the demo register
    specialty: str
    market: str
    languages: list[str]
    stage: str


def plans() -> list[Plan]:
    found = []
    for n, stage in enumerate(STAGES):
        slug = "agent" if n % 2 == 0 else "insurer"
        market, languages, specialties = FACILITATORS[slug]
        if stage == "new":
            languages = ["sv"]  # no provider of these specialties speaks Swedish: it stays new, with the reason
        found.append(Plan(n, slug, specialties[(n // 2) % len(specialties)], market, languages, stage))
    return found


def _body(plan: Plan, facilitator_id: str, today: date, tracking_code: str | None) -> dict[str, Any]:
    start = today + timedelta(days=4 + plan.n % 7)
    campaign = {"tracking_code": tracking_code} if tracking_code and plan.market == "GB" and plan.n % 4 == 0 else {}
    return {**campaign, "specialty": plan.specialty, "source_market": plan.market, "facilitator_id": facilitator_id,
            "preferred_from": start.isoformat(), "preferred_to": (start + timedelta(days=10)).isoformat(),
            "languages": plan.languages,
            "contact": {"name": f"Demo Patient {plan.n + 1:02d}", "email": f"patient{plan.n + 1:02d}@example.org"},
            "consent": {"given_at": f"{(today - timedelta(days=1)).isoformat()}T10:00:00Z",
                        "scope": ["routing", "quotes"]}}


async def _ok(r: httpx.Response) -> dict[str, Any]:
    r.raise_for_status()
    return dict(r.json()) if r.content else {}


async def _advance(client: httpx.AsyncClient, plan: Plan, enquiry: dict[str, Any], today: date) -> None:
    """Take the enquiry to its stage; each step again is a no-op (same status)."""
    path = f"/promotion/enquiries/{enquiry['id']}"
    held = [a["stakeholder_id"] for a in enquiry["assignments"]]
    if plan.stage == "new" or not held:
        return
    if plan.n == BREACHED:
        late = f"{today.isoformat()}T00:00:00Z"  # the deadline passed at midnight: the next sweep flags it
        await _ok(await client.patch(f"{path}/assignments/{held[0]}", json={"respond_by": late}))
        return
    if plan.stage == "routed" or (await _ok(await client.get(path)))["status"] == plan.stage:
        return  # nothing to do, or done by an earlier load
    await _ok(await client.patch(f"{path}/assignments/{held[0]}", json={"status": "responded"}))
    if plan.stage == "responded" or (plan.stage == "lost" and plan.n % 2 == 0):
        await _lose(client, plan, path)  # lost before any quote
        return
    quote = await _quote(client, plan, enquiry["id"], held[0], today)
    if plan.stage in ("quoted", "lost"):
        await _lose(client, plan, path)  # lost with a quote on the table
        return
    await _ok(await client.patch(f"/promotion/quotes/{quote['id']}", json={"status": "accepted"}))
    await _ok(await client.patch(path, json={"status": "booked", "booked_quote_id": quote["id"]}))
    if plan.stage == "treated":
        await _ok(await client.patch(path, json={"status": "treated"}))


async def _lose(client: httpx.AsyncClient, plan: Plan, path: str) -> None:
    if plan.stage == "lost":
        await _ok(await client.patch(path, json={"status": "lost",
                                                 "status_reason": LOST_REASONS[plan.n % len(LOST_REASONS)]}))


async def _quote(client: httpx.AsyncClient, plan: Plan, enquiry_id: str, provider_id: str, today: date
                 ) -> dict[str, Any]:
    """British patients are quoted in pounds every other time; the rest in euros."""
    currency = "GBP" if plan.market == "GB" and plan.n % 4 == 0 else "EUR"
    amount = PRICES_MINOR[plan.specialty] * (85 if currency == "GBP" else 100) // 100
    body = {"stakeholder_id": provider_id, "status": "sent", "valid_until": (today + timedelta(days=30)).isoformat(),
            "items": [{"description": f"{plan.specialty.replace('_', ' ').capitalize()}, all inclusive",
                       "amount_minor": amount, "currency": currency}]}
    return await _ok(await client.post(f"/promotion/enquiries/{enquiry_id}/quotes", json=body,
                                       headers={"Idempotency-Key": f"demo:quote:{plan.n}"}))


async def load_enquiries(client: httpx.AsyncClient, *, tracking_code: str | None = None) -> None:
    """The forty enquiries (``client``: the gateway, as staff or admin). With ``tracking_code``
    (the active demo campaign's), every fourth British patient came through that campaign."""
    register = (await _ok(await client.get("/integration/stakeholders", params={"limit": 500})))["items"]
    by_name = {s["name"]: s["id"] for s in register}
    ids = {slug: by_name[body["name"]] for slug, body, _ in STAKEHOLDERS if body["name"] in by_name}
    today = datetime.now(UTC).date()
    for plan in plans():
        body = _body(plan, ids[plan.facilitator], today, tracking_code)
        enquiry = await _ok(await client.post("/promotion/enquiries", json=body,
                                              headers={"Idempotency-Key": f"demo:enquiry:{plan.n}"}))
        await _advance(client, plan, enquiry, today)
