"""Gap analysis against the real Administration service (the other Development tests use a
fake of it): accreditations submitted, verified and suspended through its API count, or stop
counting, in the gap at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tests.development.helpers import new_segment, new_specialty, register
from tests.pillars import Pair, start_pair, unique
from tests.support import STAFF, SignedAs, provider

FOUR = ("segmentation", "integration", "administration", "development")


@pytest.fixture(scope="module")
async def four(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with AsyncExitStack() as stack:
        yield await start_pair(stack, databases, tmp_path_factory.mktemp("four"), services=FOUR)


def client(pair: Pair, service: str, caller: Any = STAFF) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=pair.urls[service], auth=SignedAs(caller), timeout=60)


async def accredited(pair: Pair, segment_id: str) -> int:
    async with client(pair, "development") as dev:
        r = await dev.get("/gaps", params={"segment_id": segment_id})
    assert r.status_code == 200, r.text
    return int(r.json()["items"][0]["current"]["accredited_providers"])


async def test_accreditations_count_in_the_gap_once_verified_and_stop_when_suspended(four: Pair) -> None:
    async with client(four, "segmentation") as seg, client(four, "integration") as integ:
        code = await new_specialty(seg)
        segment = await new_segment(seg, specialties=[code])
        hospital, clinic = await register(integ, "hospital", [code]), await register(integ, "clinic", [code])
    ids = {}
    for stakeholder in (hospital, clinic):  # each provider submits its own evidence: pending
        async with client(four, "administration", provider(stakeholder)) as own:
            r = await own.post("/accreditations", json={"stakeholder_id": stakeholder, "scheme_id": "sch_jci",
                                                         "certificate_no": unique("JCI"), "issued_on": "2026-01-05"})
            assert r.status_code == 201 and r.json()["status"] == "pending", r.text
            ids[stakeholder] = r.json()["id"]
    assert await accredited(four, segment["id"]) == 0  # pending evidence is a claim, not an accreditation
    async with client(four, "administration") as staff:
        for accreditation_id in ids.values():
            r = await staff.patch(f"/accreditations/{accreditation_id}", json={"status": "valid"})
            assert r.status_code == 200, r.text
    assert await accredited(four, segment["id"]) == 2
    async with client(four, "administration") as staff:
        r = await staff.patch(f"/accreditations/{ids[clinic]}", json={"status": "suspended", "reason": "audit"})
        assert r.status_code == 200, r.text
    assert await accredited(four, segment["id"]) == 1
