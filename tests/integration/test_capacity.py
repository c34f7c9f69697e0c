"""Capacity posted by provider systems: batches, re-confirmation, staleness, coverage."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
import structlog

from pentad.db import create_engine
from services.integration.models import Capacity
from tests.integration.helpers import (
    as_,
    capacity_of,
    coverage,
    day,
    new_specialty,
    post_capacity,
    register,
    row,
    stakeholder_body,
)
from tests.pillars import FAC, PROBLEM, Pair, feed, last_seq, service_urls, unique
from tests.support import STAFF, asgi_client, build, serving, settings_for

# -- capacity -----------------------------------------------------------------------------------

async def test_a_mixed_batch_applies_good_rows_and_reports_bad_ones(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]  # offers orthopaedics and cardiology
    start = await last_seq(integ)
    rows = [
        row("orthopaedics", day(1), 10, 4),            # 0 good
        row("no_such_specialty", day(1)),               # 1
        row("oncology", day(1)),                        # 2 known, not offered
        row("orthopaedics", day(2), -1, 0),             # 3
        row("orthopaedics", day(3), 3, 4),              # 4
        row("orthopaedics", day(731)),                  # 5 beyond the horizon
        row("orthopaedics", day(-30)),                  # 6 long past
        row("orthopaedics", "2030/01/01"),              # 7
        row("orthopaedics", "2030-1-1"),                # 8
        row("orthopaedics", day(1), 1, 1),              # 9 duplicate of 0
        {"specialty": "orthopaedics", "date": day(4), "slots_total": 5},  # 10
        row("orthopaedics", day(5), "5", 1),            # 11
        row("cardiology", day(2), 8, 8),                # 12 good
        {**row("cardiology", day(3)), "price": 1},      # 13
        row("cardiology", day(4), 5.0, 1),              # 14
        row("cardiology", day(730), 2, 0),              # 15 good: the last day of the horizon
        row("cardiology", day(-1), 1, 1),               # 16 good: yesterday (time zones)
        row("orthopaedics", day(6), 2, None),           # 17
        row(5, day(6)),                                 # 18
        row("orthopaedics", 20300101),                  # 19
        row("orthopaedics", day(7), True, 0),           # 20
        row("orthopaedics", day(8), 0, 0),              # 21 good: a full day
    ]
    r = await post_capacity(integ, sid, rows)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["inserted"] == 5 and result["updated"] == 0
    reasons = {x["index"]: x["reason"] for x in result["rejected"]}
    expected = {
        1: "unknown specialty 'no_such_specialty'", 2: "does not offer 'oncology'", 3: "negative",
        4: "exceeds slots_total", 5: "date out of range", 6: "date out of range", 7: "YYYY-MM-DD",
        8: "YYYY-MM-DD", 9: "duplicate of row 0", 10: "missing slots_available", 11: "whole numbers",
        13: "unexpected price", 14: "whole numbers", 17: "whole numbers", 18: "unknown specialty",
        19: "YYYY-MM-DD", 20: "whole numbers",
    }
    assert sorted(reasons) == sorted(expected)
    for index, fragment in expected.items():
        assert fragment in reasons[index], (index, reasons[index])
    assert [x["index"] for x in result["rejected"]] == sorted(expected)

    stored = await capacity_of(integ, sid)
    assert [(c["specialty"], c["date"], c["slots_total"], c["slots_available"], c["stale"]) for c in stored] == [
        ("cardiology", day(-1), 1, 1, False), ("orthopaedics", day(1), 10, 4, False),
        ("cardiology", day(2), 8, 8, False), ("orthopaedics", day(8), 0, 0, False),
        ("cardiology", day(730), 2, 0, False)]
    (event,) = await feed(integ, start)
    assert event["type"] == "capacity.updated" and event["subject"] == sid
    assert event["data"] == {"stakeholder_id": sid, "specialties": ["cardiology", "orthopaedics"],
                             "from": day(-1), "to": day(730), "inserted": 5, "updated": 0, "rejected": 17}


async def test_reposting_updates_and_reconfirms(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1), 10, 5), row("cardiology", day(1), 4, 4)])
    assert r.json() == {"inserted": 2, "updated": 0, "rejected": []}
    first = {(c["specialty"], c["date"]): c for c in await capacity_of(integ, sid)}
    start = await last_seq(integ)
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1), 12, 0), row("orthopaedics", day(2), 3, 3)],
                            auth=as_(sid))
    assert r.json() == {"inserted": 1, "updated": 1, "rejected": []}
    now = {(c["specialty"], c["date"]): c for c in await capacity_of(integ, sid)}
    assert len(now) == 3
    updated = now[("orthopaedics", day(1))]
    assert (updated["slots_total"], updated["slots_available"]) == (12, 0)
    assert datetime.fromisoformat(updated["confirmed_at"]) > datetime.fromisoformat(
        first[("orthopaedics", day(1))]["confirmed_at"])
    assert now[("cardiology", day(1))] == first[("cardiology", day(1))]
    (event,) = await feed(integ, start)
    assert event["data"]["inserted"] == 1 and event["data"]["updated"] == 1
    assert event["data"]["from"] == day(1) and event["data"]["to"] == day(2)
    assert event["data"]["specialties"] == ["orthopaedics"]


async def test_a_batch_of_only_bad_rows_writes_nothing(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    start = await last_seq(integ)
    r = await post_capacity(integ, sid, [row("oncology", day(1)), row("orthopaedics", day(1), 1, 2)])
    assert r.status_code == 200
    assert r.json()["inserted"] == r.json()["updated"] == 0
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    assert await capacity_of(integ, sid) == []
    assert await feed(integ, start) == []
    r = await post_capacity(integ, sid, [])
    assert r.status_code == 200 and r.json() == {"inserted": 0, "updated": 0, "rejected": []}
    r = await post_capacity(integ, "stk_does_not_exist", [row("orthopaedics", day(1))])
    assert r.status_code == 404
    r = await integ.post(f"/stakeholders/{sid}/capacity", json={"lines": []})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] in {"rows", "lines"}


SPREAD = ["orthopaedics", "cardiology", "oncology", "fertility_ivf", "bariatric", "cosmetic_plastic",
          "ophthalmology", "checkups", "rehabilitation", "dental_implantology", "cosmetic_dentistry",
          "spa_therapies", "wellness_programmes", "sports_medicine"]


async def test_batches_hold_up_to_ten_thousand_rows(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ, specialties=SPREAD))["id"]
    rows = [row(s, day(d), 3, 1) for d in range(-1, 730) for s in SPREAD][:10_000]
    start = await last_seq(integ)
    too_many = await post_capacity(integ, sid, [*rows, row("orthopaedics", day(729), 1, 1)])
    assert too_many.status_code == 422 and too_many.headers["content-type"] == PROBLEM
    assert too_many.json()["errors"][0]["field"] == "rows"
    assert await feed(integ, start) == []
    r = await integ.get(f"/stakeholders/{sid}/capacity", params={"limit": 1})
    assert r.json()["items"] == []

    r = await post_capacity(integ, sid, rows)
    assert r.status_code == 200 and r.json() == {"inserted": 10_000, "updated": 0, "rejected": []}
    (event,) = await feed(integ, start)
    assert event["data"]["inserted"] == 10_000 and event["data"]["specialties"] == sorted(SPREAD)
    r = await integ.get(f"/stakeholders/{sid}/capacity", params={"specialty": "orthopaedics", "limit": 500})
    assert len(r.json()["items"]) == 500 and r.json()["next_cursor"]


async def test_a_retried_batch_is_a_no_op(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    start = await last_seq(integ)
    key = {"Idempotency-Key": unique("batch")}
    rows = [row("orthopaedics", day(1), 10, 5), row("cardiology", day(2), 4, 2), row("oncology", day(2))]
    first = await post_capacity(integ, sid, rows, headers=key, auth=as_(sid))
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    assert first.json()["inserted"] == 2 and first.json()["rejected"][0]["index"] == 2
    stored = await capacity_of(integ, sid)

    again = await post_capacity(integ, sid, rows, headers=key, auth=as_(sid))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert await capacity_of(integ, sid) == stored  # confirmed_at untouched

    other = await post_capacity(integ, sid, [row("orthopaedics", day(1), 99, 99)], headers=key, auth=as_(sid))
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")
    assert await capacity_of(integ, sid) == stored
    assert [e["type"] for e in await feed(integ, start)] == ["capacity.updated"]
    # The same batch without the key is a new confirmation.
    r = await post_capacity(integ, sid, rows, auth=as_(sid))
    assert r.json()["updated"] == 2 and r.json()["inserted"] == 0
    assert len(await feed(integ, start)) == 2


async def test_a_row_that_is_not_an_object_is_rejected_alone(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), None, "oops", [1, 2]])
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1
    assert r.json()["rejected"] == [{"index": i, "reason": "a row must be an object"} for i in (1, 2, 3)]
    for body in (b"{not json", b'{"rows": {}}', b'{"rows": [], "extra": 1}', b"[]"):
        r = await integ.post(f"/stakeholders/{sid}/capacity", content=body,
                             headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body
    assert len(await capacity_of(integ, sid)) == 1


async def test_a_row_with_an_absurd_slot_count_is_rejected_alone(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), row("cardiology", day(1), 2**63, 1)])
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1 and [x["index"] for x in r.json()["rejected"]] == [1]


async def test_a_week_date_is_not_a_capacity_date(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    week = date.fromisoformat(day(30)).isocalendar()
    r = await post_capacity(integ, sid, [row("orthopaedics", f"{week.year}-W{week.week:02d}-{week.weekday}")])
    assert r.json()["inserted"] == 0 and r.json()["rejected"][0]["index"] == 0


async def test_capacity_keeps_flowing_while_segmentation_is_down(databases, tmp: Path) -> None:
    urls = service_urls()
    integration_db = await databases.new("integration")
    settings = settings_for("integration", integration_db, tmp, service_urls=urls)
    seg_settings = settings_for("segmentation", await databases.new("segmentation"), tmp, service_urls=urls)
    async with serving(build("segmentation", seg_settings), int(urls["segmentation"].rsplit(":", 1)[1])):
        async with asgi_client(build("integration", settings), STAFF) as integ:
            sid = (await register(integ))["id"]
    # Segmentation is gone; a fresh Integration process has no cached vocabulary.
    async with asgi_client(build("integration", settings), STAFF) as integ:
        r = await post_capacity(integ, sid, [row("orthopaedics", day(1)), row("no_such_specialty", day(1)),
                                             row("oncology", day(1))], auth=as_(sid))
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 1
        assert [x["index"] for x in r.json()["rejected"]] == [1, 2]
        assert all("does not offer" in x["reason"] for x in r.json()["rejected"])
        assert (await integ.patch(f"/stakeholders/{sid}", json={"city": "Pula"})).status_code == 200
        r = await integ.post("/stakeholders", json=stakeholder_body())
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/upstream-unavailable") and "segmentation" in r.json()["detail"]
        r = await integ.patch(f"/stakeholders/{sid}", json={"specialties": ["oncology"]})
        assert r.status_code == 503
        assert (await integ.get(f"/stakeholders/{sid}")).json()["specialties"] == ["orthopaedics", "cardiology"]


async def test_registering_without_specialties_does_not_need_segmentation(databases, tmp: Path) -> None:
    settings = settings_for("integration", await databases.new("integration"), tmp, service_urls=service_urls())
    async with asgi_client(build("integration", settings), STAFF) as integ:
        r = await integ.post("/stakeholders", json=stakeholder_body(kind="hotel", specialties=[]))
        assert r.status_code == 201, r.text


async def test_capacity_reads_filter_and_page(integ: httpx.AsyncClient) -> None:
    sid = (await register(integ))["id"]
    rows = [row(s, day(d), 10 + d, d) for d in (3, 1, 2) for s in ("orthopaedics", "cardiology")]
    assert (await post_capacity(integ, sid, rows)).json()["inserted"] == 6
    everything = await capacity_of(integ, sid)
    assert [(c["date"], c["specialty"]) for c in everything] == [
        (day(d), s) for d in (1, 2, 3) for s in ("cardiology", "orthopaedics")]

    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        r = await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200 and len(r.json()["items"]) == 2
        seen += r.json()["items"]
        if (cursor := r.json()["next_cursor"]) is None:
            break
    assert seen == everything

    def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(c["date"], c["specialty"]) for c in items]

    ortho = [(day(d), "orthopaedics") for d in (1, 2, 3)]
    assert keys(await capacity_of(integ, sid, specialty="orthopaedics")) == ortho
    assert keys(await capacity_of(integ, sid, **{"from": day(2)})) == keys(everything)[2:]
    assert keys(await capacity_of(integ, sid, to=day(2))) == keys(everything)[:4]
    assert keys(await capacity_of(integ, sid, **{"from": day(2), "to": day(2)})) == keys(everything)[2:4]
    assert keys(await capacity_of(integ, sid, specialty="cardiology", **{"from": day(2)})) == [
        (day(2), "cardiology"), (day(3), "cardiology")]
    assert await capacity_of(integ, sid, specialty="oncology") == []
    page = (await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"specialty": "cardiology", "from": day(2), "limit": 1})).json()
    rest = (await integ.get(f"/stakeholders/{sid}/capacity",
                            params={"specialty": "cardiology", "from": day(2), "limit": 1,
                                    "cursor": page["next_cursor"]})).json()
    assert keys(page["items"] + rest["items"]) == [(day(2), "cardiology"), (day(3), "cardiology")]
    assert rest["next_cursor"] is None

    for params, field in (({"cursor": "not-a-cursor"}, "query.cursor"), ({"cursor": "!!!"}, "query.cursor"),
                          ({"from": "tomorrow"}, "query.from"), ({"to": "2030-13-01"}, "query.to")):
        r = await integ.get(f"/stakeholders/{sid}/capacity", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (params, r.text)
    assert (await integ.get("/stakeholders/stk_does_not_exist/capacity")).status_code == 404


async def test_every_providers_capacity_reads_in_bulk_pages(integ: httpx.AsyncClient) -> None:
    """``GET /capacity`` (staff): every stakeholder's rows in the window, by stakeholder,
    specialty and date, paged: what the coordinator's rebuild reads instead of a call a provider."""
    ids = sorted([(await register(integ))["id"] for _ in range(2)])
    for n, sid in enumerate(ids):
        rows = [row(s, day(d), 10, d - 699 + n) for d in (700, 701, 702) for s in ("orthopaedics", "cardiology")]
        assert (await post_capacity(integ, sid, rows)).json()["inserted"] == 6
    window = {"from": day(700), "to": day(702)}
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        r = await integ.get("/capacity", params={**window, "limit": 4, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= 4
        seen += r.json()["items"]
        if (cursor := r.json()["next_cursor"]) is None:
            break
    keys = [(c["stakeholder_id"], c["specialty"], c["date"]) for c in seen]
    assert keys == sorted(set(keys))  # each row once, in key order, across pages
    mine = [c for c in seen if c["stakeholder_id"] in ids]
    assert len(mine) == 12
    for sid in ids:
        own = await capacity_of(integ, sid, **window)
        assert sorted((c["specialty"], c["date"], c["slots_available"], c["stale"]) for c in own) == sorted(
            (c["specialty"], c["date"], c["slots_available"], c["stale"]) for c in mine if c["stakeholder_id"] == sid)
    narrow = (await integ.get("/capacity", params={"from": day(701), "to": day(701), "limit": 5000})).json()
    assert {c["date"] for c in narrow["items"]} == {day(701)}

    for params, field in (({"limit": 5001}, "query.limit"), ({"cursor": "!!!"}, "query.cursor"),
                          ({"from": day(3), "to": day(1)}, "query.to")):
        r = await integ.get("/capacity", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (params, r.text)
        assert r.json()["errors"][0]["field"] == field, (params, r.text)
    r = await integ.get("/capacity", auth=as_(ids[0]))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


async def age_capacity(pair: Pair, stakeholder_id: str, specialty: str, days: int) -> None:
    """Simulates time passing: the rows were last confirmed ``days`` ago."""
    engine = create_engine(pair.databases["integration"])
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                sa.update(Capacity.__table__)
                .where(Capacity.stakeholder_id == stakeholder_id, Capacity.specialty == specialty)
                .values(confirmed_at=datetime.now(UTC) - timedelta(days=days)))
            assert result.rowcount > 0
    finally:
        await engine.dispose()


async def test_unconfirmed_capacity_goes_stale_and_stops_counting(pair: Pair, integ: httpx.AsyncClient,
                                                                  seg: httpx.AsyncClient) -> None:
    x, y = await new_specialty(seg), await new_specialty(seg)
    sid = (await register(integ, specialties=[x, y]))["id"]
    r = await post_capacity(integ, sid, [row(x, day(0), 5, 2), row(x, day(1), 5, 3), row(y, day(1), 4, 4)])
    assert r.json()["inserted"] == 3
    cov = await coverage(integ, x, y)
    assert cov[x]["providers_with_fresh_capacity"] == 1 and cov[x]["weekly_fresh_slots"] == 5

    await age_capacity(pair, sid, x, days=20)
    stale = {(c["specialty"], c["date"]): c["stale"] for c in await capacity_of(integ, sid)}
    assert stale == {(x, day(0)): True, (x, day(1)): True, (y, day(1)): False}
    cov = await coverage(integ, x, y)
    assert cov[x] == {"specialty": x, "providers": 1, "providers_with_fresh_capacity": 0, "weekly_fresh_slots": 0}
    assert cov[y] == {"specialty": y, "providers": 1, "providers_with_fresh_capacity": 1, "weekly_fresh_slots": 4}

    await age_capacity(pair, sid, y, days=13)  # inside the 14-day window: still fresh
    assert all(not c["stale"] for c in await capacity_of(integ, sid, specialty=y))
    assert (await coverage(integ, y))[y]["providers_with_fresh_capacity"] == 1

    r = await post_capacity(integ, sid, [row(x, day(1), 5, 1)])  # re-confirmed
    assert r.json()["updated"] == 1
    stale = {(c["specialty"], c["date"]): c["stale"] for c in await capacity_of(integ, sid, specialty=x)}
    assert stale == {(x, day(0)): True, (x, day(1)): False}
    cov = await coverage(integ, x)
    assert cov[x]["providers_with_fresh_capacity"] == 1 and cov[x]["weekly_fresh_slots"] == 1


async def test_coverage_counts_providers_and_fresh_capacity_this_week(integ: httpx.AsyncClient,
                                                                      seg: httpx.AsyncClient) -> None:
    x = await new_specialty(seg)
    a = (await register(integ, kind="hospital", specialties=[x, "orthopaedics"]))["id"]
    b = (await register(integ, kind="clinic", specialties=[x]))["id"]
    c = (await register(integ, kind="dental", specialties=[x]))["id"]
    hotel = (await register(integ, kind="hotel", specialties=[x]))["id"]
    gone = (await register(integ, kind="rehab", specialties=[x]))["id"]
    assert (await post_capacity(integ, a, [row(x, day(1), 9, 5), row(x, day(6), 2, 2), row(x, day(7), 50, 50),
                                           row(x, day(10), 100, 100)])).json()["inserted"] == 4
    assert (await post_capacity(integ, b, [row(x, day(-1), 4, 4)])).json()["inserted"] == 1
    assert (await post_capacity(integ, c, [row(x, day(1), 6, 0)])).json()["inserted"] == 1
    assert (await post_capacity(integ, hotel, [row(x, day(1), 7, 7)])).json()["inserted"] == 1
    assert (await post_capacity(integ, gone, [row(x, day(1), 9, 9)])).json()["inserted"] == 1
    assert (await integ.patch(f"/stakeholders/{gone}", json={"status": "inactive"})).status_code == 200

    r = await integ.get("/coverage", params=[("specialty", x)], auth=FAC)
    assert r.status_code == 200
    assert r.json()["items"] == [
        {"specialty": x, "providers": 3, "providers_with_fresh_capacity": 1, "weekly_fresh_slots": 7}]
    # A specialty nobody knows is a mistake named, as in a body, not a row of zeros.
    r = await integ.get("/coverage", params=[("specialty", x), ("specialty", "zz_not_a_specialty")], auth=FAC)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.specialty.1"], r.text

    # A provider that stops offering the specialty stops counting, whatever rows it left,
    # once staff approve: its own proposal changes nothing.
    counted = await coverage(integ, x)
    r = await integ.patch(f"/stakeholders/{a}", json={"specialties": ["orthopaedics"]}, auth=as_(a))
    assert r.status_code == 200
    assert await coverage(integ, x) == counted
    assert (await integ.post(f"/stakeholders/{a}/proposal/approve")).status_code == 200
    assert (await coverage(integ, x))[x] == {"specialty": x, "providers": 2, "providers_with_fresh_capacity": 0,
                                             "weekly_fresh_slots": 0}
    assert (await integ.patch(f"/stakeholders/{gone}", json={"status": "active"})).status_code == 200
    assert (await coverage(integ, x))[x]["providers_with_fresh_capacity"] == 1
    r = await integ.get("/coverage")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.specialty"


async def test_concurrent_writers_of_the_same_rows_never_deadlock_into_a_5xx(integ: httpx.AsyncClient) -> None:
    """Issue 6, defect 3: six writers posting the same 1,398 rows, half of them in the opposite
    order, got 500s from PostgreSQL's deadlock detector. A provider's batches now apply one at a
    time (PostgreSQL) and rows in one order; a lost race would be retried by the unit of work,
    but none may happen."""
    sid = (await register(integ, specialties=SPREAD))["id"]
    rows = [row(s, day(d), 5, 2) for d in range(0, 700) for s in SPREAD][:1_398]

    async def writer(batch: list[dict[str, Any]]) -> list[httpx.Response]:
        return [await post_capacity(integ, sid, batch) for _ in range(5)]

    with structlog.testing.capture_logs() as logs:
        answers = [r for run in await asyncio.gather(*(writer(rows if i % 2 else rows[::-1]) for i in range(6)))
                   for r in run]
    assert [r.status_code for r in answers] == [200] * 30
    assert not [e for e in logs if e["event"] == "request.contended"]  # no deadlock, not even one retried
    # Every row applied by every batch, and inserted by exactly one of them (the others found it).
    assert all(r.json()["inserted"] + r.json()["updated"] == len(rows) for r in answers)
    assert sum(r.json()["inserted"] for r in answers) == len(rows)
    r = await integ.get(f"/stakeholders/{sid}/capacity", params={"limit": 1})
    assert r.json()["items"][0]["slots_available"] == 2


async def test_a_row_another_writer_inserts_meanwhile_is_updated_not_dropped(pair: Pair,
                                                                           integ: httpx.AsyncClient) -> None:
    """PostgreSQL applies a batch as an UPDATE of the rows it saw and an INSERT of the rest; a
    row another transaction inserts in between must still take this batch's values."""
    url = pair.databases["integration"]
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has one writer at a time")
    x = SPREAD[0]
    sid = (await register(integ, specialties=[x]))["id"]
    assert (await post_capacity(integ, sid, [row(x, day(1), 5, 1)])).json()["inserted"] == 1
    other = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("INSERT INTO capacity (stakeholder_id, specialty, date, slots_total, slots_available, "
                            "confirmed_at) VALUES ($1, $2, $3, 9, 9, now())", sid, x, date.fromisoformat(day(2)))
        posting = asyncio.create_task(post_capacity(integ, sid, [row(x, day(1), 7, 2), row(x, day(2), 7, 3)]))
        for _ in range(200):  # until the batch waits on the uncommitted row
            waiting = await other.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND wait_event_type = 'Lock'")
            if waiting or posting.done():
                break
            await asyncio.sleep(0.05)
        assert waiting == 1 and not posting.done()
        await tx.commit()
        r = await posting
    finally:
        await other.close()
    assert r.status_code == 200 and r.json() == {"inserted": 0, "updated": 2, "rejected": []}, r.text
    got = {c["date"]: (c["slots_total"], c["slots_available"]) for c in await capacity_of(integ, sid)}
    assert got == {day(1): (7, 2), day(2): (7, 3)}
