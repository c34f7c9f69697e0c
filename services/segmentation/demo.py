"""Demo destination, Segmentation part: the segments a Kvarner (Croatia) DMO targets.

Figures are plausible for a mid-size Adriatic health-tourism region, not real statistics.
"""

from __future__ import annotations

import httpx


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


SEGMENTS = [
    {"name": "Joint replacement and rehabilitation for DACH self-payers", "family": "medical",
     "specialties": ["orthopaedics", "rehabilitation"], "source_markets": ["DE", "AT", "CH"],
     "payer_types": ["self_pay", "insurer"], "motivation": "have_to",
     "price_band": {"min": _money("7500", "EUR"), "max": _money("16000", "EUR")},
     "languages": ["de", "en"],
     "demand": {"annual_patients": 1800, "avg_spend": _money("11200", "EUR"), "growth_rate": "0.07"},
     "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 25}},
    {"name": "Dental implants for UK and Irish self-payers", "family": "dental",
     "specialties": ["dental_implantology", "cosmetic_dentistry"], "source_markets": ["GB", "IE"],
     "payer_types": ["self_pay"], "motivation": "want_to",
     "price_band": {"min": _money("1200", "GBP"), "max": _money("9500", "GBP")},
     "languages": ["en"],
     "demand": {"annual_patients": 4200, "avg_spend": _money("3400", "GBP"), "growth_rate": "0.12"},
     "threshold": {"min_accredited_providers": 3, "min_weekly_capacity": 60}},
    {"name": "Thalassotherapy and wellness weeks for the Nordics", "family": "wellness",
     "specialties": ["spa_therapies", "wellness_programmes"], "source_markets": ["SE", "NO", "DK", "FI"],
     "payer_types": ["self_pay"], "motivation": "want_to",
     "price_band": {"min": _money("900", "EUR"), "max": _money("3500", "EUR")},
     "languages": ["en", "sv", "no"],
     "demand": {"annual_patients": 6500, "avg_spend": _money("1650", "EUR"), "growth_rate": "0.05"},
     "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 150}},
    {"name": "Cardiac rehabilitation referred by Italian insurers", "family": "medical",
     "specialties": ["rehabilitation", "cardiology"], "source_markets": ["IT", "SI"],
     "payer_types": ["insurer", "government"], "motivation": "have_to",
     "languages": ["it", "en"],
     "demand": {"annual_patients": 900, "avg_spend": _money("5200", "EUR"), "growth_rate": "0.04"},
     "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 20}},
    {"name": "IVF for Italian couples", "family": "medical",
     "specialties": ["fertility_ivf"], "source_markets": ["IT"],
     "payer_types": ["self_pay"], "motivation": "have_to",
     "price_band": {"min": _money("3800", "EUR"), "max": _money("7900", "EUR")},
     "languages": ["it", "en"],
     "demand": {"annual_patients": 1300, "avg_spend": _money("5600", "EUR"), "growth_rate": "0.09"},
     "threshold": {"min_accredited_providers": 2, "min_weekly_capacity": 15}},
]


async def load(client: httpx.AsyncClient) -> None:
    for i, segment in enumerate(SEGMENTS):
        r = await client.post("/segmentation/segments", json=segment,
                              headers={"Idempotency-Key": f"demo:segment:{i}"})
        r.raise_for_status()
