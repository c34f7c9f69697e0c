"""Helpers of the coordinator's tests: a segment and its providers built through the real pillars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from tests.development.helpers import mondays, new_segment, new_specialty, post_capacity, register
from tests.dmo.conftest import World
from tests.pillars import money, unique
from tests.support import provider


@dataclass
class Cluster:
    segment: dict[str, Any]
    specialty: str
    providers: list[str]
    accreditations: dict[str, str]  # provider → its verified accreditation
    hotel: str
    transfer: str


def weeks_of_slots(per_week: int, weeks: list[date] | None = None) -> dict[date, int]:
    """``per_week`` slots on the Tuesday of each of the gap's 8 weeks."""
    return {monday + timedelta(days=1): per_week for monday in (weeks or mondays())}


async def accredit(world: World, stakeholder_id: str) -> str:
    async with world.client("administration", provider(stakeholder_id)) as own:
        r = await own.post("/accreditations", json={"stakeholder_id": stakeholder_id, "scheme_id": "sch_jci",
                                                     "certificate_no": unique("JCI"), "issued_on": "2026-01-05"})
        assert r.status_code == 201, r.text
    async with world.client("administration") as staff:
        r2 = await staff.patch(f"/accreditations/{r.json()['id']}", json={"status": "valid"})
        assert r2.status_code == 200, r2.text
    return str(r.json()["id"])


async def set_accreditation(world: World, accreditation_id: str, status: str) -> None:
    async with world.client("administration") as staff:
        r = await staff.patch(f"/accreditations/{accreditation_id}", json={"status": status, "reason": "audit"})
        assert r.status_code == 200, r.text


async def cluster(world: World, *, providers: int = 2, per_week: int = 15, threshold: int = 2,
                  capacity: int = 20, languages: tuple[str, ...] = ("de",)) -> Cluster:
    """A ready segment: ``providers`` accredited providers speaking its languages, each with
    ``per_week`` fresh slots in each of the 8 weeks, a hotel and a transfer firm. The providers
    speak only the first of ``languages``."""
    async with world.client("segmentation") as seg, world.client("integration") as integ:
        code = await new_specialty(seg)
        segment = await new_segment(seg, specialties=[code], languages=list(languages),
                                    threshold={"min_accredited_providers": threshold, "min_weekly_capacity": capacity})
        ids = [await register(integ, "hospital", [code], languages=[languages[0]]) for _ in range(providers)]
        for sid in ids:
            await post_capacity(integ, sid, code, weeks_of_slots(per_week))
        hotel, transfer = await register(integ, "hotel"), await register(integ, "transfer")
    return Cluster(segment, code, ids, {sid: await accredit(world, sid) for sid in ids}, hotel, transfer)


async def publish_package(world: World, c: Cluster) -> dict[str, Any]:
    async with world.client("integration") as integ:
        r = await integ.post("/packages", json={"name": unique("Knee"), "specialty": c.specialty, "components": [
            {"kind": "treatment", "stakeholder_id": c.providers[0], "description": "Knee", "price": money("5000.00")},
            {"kind": "stay", "stakeholder_id": c.hotel, "description": "7 nights", "price": money("700.00")},
            {"kind": "transfer", "stakeholder_id": c.transfer, "description": "Airport", "price": money("80.00")}]})
        assert r.status_code == 201, r.text
        return dict(r.json())


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())
