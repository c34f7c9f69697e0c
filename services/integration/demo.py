"""Demo destination, Integration part: Kvarner's providers, their capacity and packages.

Names are invented for the demo; capacity covers the next nine weeks from the day it
loads (the eight whole weeks Development's gaps and the coordinator's readiness look at,
whatever the weekday), so it is fresh (re-running `make run` on a later day re-confirms it).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

FX = {"base": "EUR", "rates": {"USD": "1.0812", "GBP": "0.8465", "CHF": "0.9380", "SEK": "11.2450",
                               "NOK": "11.6900", "DKK": "7.4590"}}

CAPACITY_DAYS = 63

# (slug, body, weekday slots per specialty)
STAKEHOLDERS: list[tuple[str, dict[str, Any], dict[str, int]]] = [
    ("ortho", {"kind": "hospital", "name": "Kvarner Orthopaedic and Trauma Hospital", "country": "HR",
               "city": "Opatija", "languages": ["hr", "en", "de", "it"],
               "specialties": ["orthopaedics", "rehabilitation"]}, {"orthopaedics": 4, "rehabilitation": 6}),
    ("rehab", {"kind": "rehab", "name": "Thalasso Rehabilitation Centre Crikvenica", "country": "HR",
               "city": "Crikvenica", "languages": ["hr", "en", "de", "it"],
               "specialties": ["rehabilitation", "cardiology", "spa_therapies"]},
     {"rehabilitation": 8, "cardiology": 2, "spa_therapies": 20}),
    ("dental1", {"kind": "dental", "name": "Rijeka Implant Dental Clinic", "country": "HR", "city": "Rijeka",
                 "languages": ["hr", "en"], "specialties": ["dental_implantology", "cosmetic_dentistry"]},
     {"dental_implantology": 6, "cosmetic_dentistry": 5}),
    ("dental2", {"kind": "dental", "name": "Adriatic Smile Dental Studio", "country": "HR", "city": "Opatija",
                 "languages": ["hr", "en", "de"], "specialties": ["dental_implantology"]},
     {"dental_implantology": 4}),
    ("ivf", {"kind": "clinic", "name": "Kvarner Fertility Clinic", "country": "HR", "city": "Rijeka",
             "languages": ["hr", "en", "it"], "specialties": ["fertility_ivf"]}, {"fertility_ivf": 2}),
    ("wellness", {"kind": "wellness", "name": "Opatija Riviera Wellness Resort", "country": "HR",
                  "city": "Opatija", "languages": ["hr", "en", "de", "sv"],
                  "specialties": ["spa_therapies", "wellness_programmes"]},
     {"spa_therapies": 14, "wellness_programmes": 10}),
    ("hotel", {"kind": "hotel", "name": "Hotel Lungomare Opatija", "country": "HR", "city": "Opatija",
               "languages": ["hr", "en", "de", "it"]}, {}),
    ("transfer", {"kind": "transfer", "name": "Kvarner Medical Transfers", "country": "HR", "city": "Rijeka",
                  "languages": ["hr", "en", "de"]}, {}),
    ("agent", {"kind": "facilitator", "name": "MediJourney UK", "country": "GB", "city": "London",
               "languages": ["en"]}, {}),
    ("insurer", {"kind": "insurer", "name": "Salute Nord Assicurazioni", "country": "IT", "city": "Milan",
                 "languages": ["it", "en"]}, {}),
]


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _packages(ids: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("hip", {"name": "Hip replacement with 14 nights' rehabilitation stay", "specialty": "orthopaedics",
                 "components": [
                     {"kind": "treatment", "stakeholder_id": ids["ortho"], "description": "Total hip arthroplasty",
                      "price": _money("8900")},
                     {"kind": "stay", "stakeholder_id": ids["hotel"], "description": "14 nights, sea-view room",
                      "price": _money("1680")},
                     {"kind": "transfer", "stakeholder_id": ids["transfer"],
                      "description": "Rijeka airport (RJK) return, wheelchair-accessible", "price": _money("140")},
                     {"kind": "aftercare", "stakeholder_id": ids["rehab"],
                      "description": "10 physiotherapy sessions", "price": _money("650")}]}),
        ("implants", {"name": "All-on-4 implants with 6 nights' stay", "specialty": "dental_implantology",
                      "currency": "GBP", "components": [
                          {"kind": "treatment", "stakeholder_id": ids["dental1"],
                           "description": "All-on-4, one arch, provisional and final bridge", "price": _money("5900")},
                          {"kind": "stay", "stakeholder_id": ids["hotel"], "description": "6 nights",
                           "price": _money("720")},
                          {"kind": "transfer", "stakeholder_id": ids["transfer"], "description": "Airport return",
                           "price": _money("90")}]}),
        ("thalasso", {"name": "Seven-day thalassotherapy week", "specialty": "spa_therapies", "components": [
            {"kind": "treatment", "stakeholder_id": ids["wellness"],
             "description": "Daily thalassotherapy and two massages", "price": _money("980")},
            {"kind": "stay", "stakeholder_id": ids["wellness"], "description": "7 nights half board",
             "price": _money("1120")}]}),
    ]


def _capacity(slots: dict[str, int], today: datetime) -> list[dict[str, Any]]:
    rows = []
    for day in range(CAPACITY_DAYS):
        date = (today + timedelta(days=day)).date()
        weekend = date.weekday() >= 5
        for specialty, per_day in slots.items():
            total = per_day // 2 if weekend else per_day
            booked = zlib.crc32(f"{specialty}{date}".encode()) % (total + 1)
            rows.append({"specialty": specialty, "date": date.isoformat(), "slots_total": total,
                         "slots_available": total - booked})
    return rows


async def load(client: httpx.AsyncClient) -> None:
    (await client.put("/integration/fx-rates", json=FX)).raise_for_status()
    ids: dict[str, str] = {}
    today = datetime.now(UTC)
    for slug, body, slots in STAKEHOLDERS:
        r = await client.post("/integration/stakeholders", json=body,
                              headers={"Idempotency-Key": f"demo:stakeholder:{slug}"})
        r.raise_for_status()
        ids[slug] = r.json()["id"]
        if slots:
            r = await client.post(f"/integration/stakeholders/{ids[slug]}/capacity",
                                  json={"rows": _capacity(slots, today)},
                                  headers={"Idempotency-Key": f"demo:capacity:{slug}:{today.date()}"})
            r.raise_for_status()
    for slug, body in _packages(ids):
        r = await client.post("/integration/packages", json=body, headers={"Idempotency-Key": f"demo:package:{slug}"})
        r.raise_for_status()
