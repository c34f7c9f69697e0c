"""Fresh capacity per provider, specialty and ISO week (GET /capacity/weekly)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.integration.schemas import iso_week
from tests.integration.helpers import as_, new_specialty, post_capacity, register, row
from tests.integration.test_capacity import age_capacity
from tests.pillars import FAC, PROBLEM, Pair


def next_monday(after_days: int = 2) -> date:
    """A Monday at least ``after_days`` ahead (capacity may be posted from yesterday on)."""
    day = datetime.now(UTC).date() + timedelta(days=after_days)
    return day + timedelta(days=-day.weekday() % 7)


def on(monday: date, offset: int) -> str:
    return (monday + timedelta(days=offset)).isoformat()


async def weekly(integ: httpx.AsyncClient, specialties: list[str], from_: date, to: date,
                 **params: Any) -> httpx.Response:
    return await integ.get("/capacity/weekly", params=[*(("specialty", s) for s in specialties),
                                                        ("from", from_.isoformat()), ("to", to.isoformat()),
                                                        *params.items()])


async def test_weekly_capacity_sums_fresh_rows_of_active_providers_by_iso_week(
        pair: Pair, integ: httpx.AsyncClient, seg: httpx.AsyncClient) -> None:
    x, y, z = await new_specialty(seg), await new_specialty(seg), await new_specialty(seg)
    m = next_monday()
    hospital = (await register(integ, kind="hospital", specialties=[x]))["id"]
    clinic = (await register(integ, kind="clinic", specialties=[x, y]))["id"]
    dental = (await register(integ, kind="dental", specialties=[x, z]))["id"]
    hotel = (await register(integ, kind="hotel", specialties=[x]))["id"]
    gone = (await register(integ, kind="rehab", specialties=[x]))["id"]
    posts = {
        hospital: [row(x, on(m, 0), 9, 5), row(x, on(m, 1), 3, 3), row(x, on(m, 6), 2, 2),  # Mon, Tue, Sun
                   row(x, on(m, 7), 8, 4), row(x, on(m, 20), 9, 9)],                          # next week; out of range
        clinic: [row(x, on(m, 2), 7, 7), row(x, on(m, 3), 5, 0), row(y, on(m, 8), 9, 9)],
        dental: [row(x, on(m, 9), 1, 1), row(z, on(m, 2), 6, 6)],
        hotel: [row(x, on(m, 2), 30, 30)],
        gone: [row(x, on(m, 2), 30, 30)],
    }
    for sid, rows in posts.items():
        r = await post_capacity(integ, sid, rows, auth=as_(sid))
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    await age_capacity(pair, clinic, y, days=15)  # past the 14-day window: stale
    assert (await integ.patch(f"/stakeholders/{gone}", json={"status": "inactive"})).status_code == 200
    assert (await integ.patch(f"/stakeholders/{dental}", json={"specialties": [x]})).status_code == 200

    r = await weekly(integ, [x, y, z, x], m, m + timedelta(days=13))
    assert r.status_code == 200, r.text
    w1, w2 = iso_week(m), iso_week(m + timedelta(days=7))
    expected = sorted([
        (hospital, x, w1, m.isoformat(), 10), (hospital, x, w2, on(m, 7), 4),
        (clinic, x, w1, m.isoformat(), 7),   # a full day counts 0, the week still shows
        (dental, x, w2, on(m, 7), 1),        # z is no longer offered: its rows do not count
    ])
    got = [(i["stakeholder_id"], i["specialty"], i["week"], i["starts_on"], i["fresh_slots"])
           for i in r.json()["items"]]
    assert got == expected and r.json()["next_cursor"] is None
    assert w1 == f"{m.isocalendar().year}-W{m.isocalendar().week:02d}"

    walked, cursor = [], None
    for _ in range(10):
        page = (await weekly(integ, [x, y, z], m, m + timedelta(days=13), limit=1,
                             **({"cursor": cursor} if cursor else {}))).json()
        walked += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert walked == r.json()["items"]

    # A range that cuts a week sums only the days inside it.
    r = await weekly(integ, [x], m + timedelta(days=1), m + timedelta(days=1))
    assert [(i["stakeholder_id"], i["fresh_slots"]) for i in r.json()["items"]] == [(hospital, 3)]


async def test_weekly_capacity_is_staff_only_and_checks_its_range(integ: httpx.AsyncClient) -> None:
    m = next_monday()
    sid = (await register(integ))["id"]
    for auth in (as_(sid), FAC):
        r = await integ.get("/capacity/weekly", params={"specialty": "orthopaedics", "from": m.isoformat(),
                                                         "to": m.isoformat()}, auth=auth)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    bad = [
        ({"from": m.isoformat(), "to": m.isoformat()}, "query.specialty"),
        ({"specialty": "orthopaedics", "to": m.isoformat()}, "query.from"),
        ({"specialty": "orthopaedics", "from": on(m, 1), "to": m.isoformat()}, "query.to"),
        ({"specialty": "orthopaedics", "from": m.isoformat(), "to": on(m, 366)}, "query.to"),
        ({"specialty": "Not A Code", "from": m.isoformat(), "to": m.isoformat()}, "query.specialty.0"),
        ({"specialty": "orthopaedics", "from": m.isoformat(), "to": m.isoformat(), "cursor": "!!"}, "query.cursor"),
    ]
    for params, field in bad:
        r = await integ.get("/capacity/weekly", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (params, r.text)
    r = await weekly(integ, ["orthopaedics"], m, m + timedelta(days=365))
    assert r.status_code == 200
