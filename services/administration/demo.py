"""Demo destination, Administration part: what Kvarner's providers are accredited for, who
pays dues to the DMO, and two complaints.

Loaded after Integration's part, through the gateway: stakeholders are found by their
demo names. Dates are relative to the day it loads, so the rehabilitation centre's Temos
certificate is always inside the 90-day expiring window then, and the second dental
clinic's GHA evidence waits for staff. Every create carries an ``Idempotency-Key``; a
create that is replayed (it already exists) is left as it is, never moved further along.
Certificate numbers are invented.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.administration.lifecycle import add_years
from services.integration.demo import STAKEHOLDERS

# (slug, scheme, certificate no., issued this many days ago, verified?)
ACCREDITATIONS: list[tuple[str, str, str, int, bool]] = [
    ("ortho", "sch_jci", "JCI-HR-0117", 420, True),
    ("ortho", "sch_national_licence", "MZ-HR-BOL-0042", 730, True),
    ("rehab", "sch_temos", "TEMOS-HR-0031", 3 * 365 - 45, True),   # expires in about 45 days
    ("rehab", "sch_national_licence", "MZ-HR-REH-0108", 900, True),
    ("dental1", "sch_temos", "TEMOS-HR-0064", 200, True),
    ("dental1", "sch_national_licence", "MZ-HR-DEN-0311", 1200, True),
    ("dental2", "sch_gha", "GHA-2025-HR-009", 30, False),          # evidence submitted, not yet verified
    ("dental2", "sch_national_licence", "MZ-HR-DEN-0377", 500, True),
    ("ivf", "sch_iso22525", "ISO22525-HR-0012", 300, True),
    ("ivf", "sch_national_licence", "MZ-HR-MPO-0019", 640, True),
    ("wellness", "sch_iso22525", "ISO22525-HR-0015", 150, True),
]

# (slug, tier, yearly dues in EUR); dental2's last year ended a month ago: lapsed.
MEMBERSHIPS: list[tuple[str, str, str]] = [
    ("ortho", "founding", "4800.00"), ("rehab", "premium", "3600.00"), ("dental1", "standard", "2400.00"),
    ("dental2", "standard", "2400.00"), ("ivf", "standard", "2400.00"), ("wellness", "premium", "3600.00"),
    ("hotel", "associate", "900.00"), ("transfer", "associate", "600.00"), ("agent", "associate", "600.00"),
]

# (slug, category, severity, description, resolution or None for one still open)
COMPLAINTS: list[tuple[str, str, str, str, str | None]] = [
    ("transfer", "transfer", "medium",
     "Patient's airport pickup at Rijeka (RJK) came 90 minutes late after a hip replacement; no call ahead.", None),
    ("dental1", "billing", "low",
     "The final invoice listed a bone graft the patient says was not in the quote.",
     "The graft was agreed in the clinic and documented; the clinic refunded half as a gesture."),
]


def _ids(register: list[dict[str, Any]]) -> dict[str, str]:
    by_name = {s["name"]: s["id"] for s in register}
    return {slug: by_name[body["name"]] for slug, body, _ in STAKEHOLDERS if body["name"] in by_name}


async def _create(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The created item, or None when this key had created it before (leave it as it is)."""
    r = await client.post(f"/administration{path}", json=body, headers={"Idempotency-Key": f"demo:{key}"})
    r.raise_for_status()
    return None if r.headers.get("idempotent-replayed") == "true" else dict(r.json())


async def _patch(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    (await client.patch(f"/administration{path}", json=body)).raise_for_status()


async def _accreditations(client: httpx.AsyncClient, ids: dict[str, str], today: date) -> None:
    for slug, scheme, certificate, age, verify in ACCREDITATIONS:
        body = {"stakeholder_id": ids[slug], "scheme_id": scheme, "certificate_no": certificate,
                "issued_on": (today - timedelta(days=age)).isoformat(),
                "evidence_url": f"https://evidence.kvarner-health.example/{certificate}.pdf"}
        created = await _create(client, "/accreditations", body, f"accreditation:{slug}:{scheme}")
        if created and verify:
            await _patch(client, f"/accreditations/{created['id']}", {"status": "valid"})


async def _memberships(client: httpx.AsyncClient, ids: dict[str, str], today: date) -> None:
    for slug, tier, dues in MEMBERSHIPS:
        end = today - timedelta(days=30) if slug == "dental2" else add_years(today, 1) - timedelta(days=1)
        body = {"stakeholder_id": ids[slug], "tier": tier, "dues": {"amount": dues, "currency": "EUR"},
                "period_start": (add_years(end, -1) + timedelta(days=1)).isoformat(), "period_end": end.isoformat()}
        await _create(client, "/memberships", body, f"membership:{slug}")


async def _complaints(client: httpx.AsyncClient, ids: dict[str, str]) -> None:
    for slug, category, severity, description, resolution in COMPLAINTS:
        body = {"stakeholder_id": ids[slug], "category": category, "severity": severity, "description": description}
        created = await _create(client, "/complaints", body, f"complaint:{slug}:{category}")
        if created and resolution:
            await _patch(client, f"/complaints/{created['id']}", {"status": "investigating"})
            await _patch(client, f"/complaints/{created['id']}", {"status": "resolved", "resolution": resolution})


async def load(client: httpx.AsyncClient) -> None:
    r = await client.get("/integration/stakeholders", params={"limit": 500})
    r.raise_for_status()
    ids = _ids(r.json()["items"])
    today = datetime.now(UTC).date()
    await _accreditations(client, ids, today)
    await _memberships(client, ids, today)
    await _complaints(client, ids)
