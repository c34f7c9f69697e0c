"""Critical-threshold assessments: computed snapshots, recorded past figures, history order."""

from __future__ import annotations

from typing import Any

import httpx

from tests.development.conftest import World
from tests.development.helpers import day, mondays, new_segment, new_specialty, post_capacity, register
from tests.pillars import FAC, PROBLEM, feed, last_seq
from tests.support import SignedAs, provider


def figures(accredited: int, capacity: int, languages: list[str], hotels: int = 1, transfers: int = 1,
            **extra: Any) -> dict[str, Any]:
    return {"accredited_providers": accredited, "weekly_capacity": capacity, "languages_covered": languages,
            "hotels": hotels, "transfer_firms": transfers, **extra}


async def history(dev: httpx.AsyncClient, segment_id: str | None = None, **params: Any) -> list[dict[str, Any]]:
    r = await dev.get("/assessments", params={"limit": 500, **({"segment_id": segment_id} if segment_id else {}),
                                              **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_a_computed_assessment_snapshots_every_active_segment(world: World) -> None:
    async with world.client("segmentation") as seg, world.client("integration") as integ, \
            world.client("development") as dev:
        x = await new_specialty(seg)
        one = await new_segment(seg, specialties=[x], languages=["en"],
                                threshold={"min_accredited_providers": 1, "min_weekly_capacity": 5})
        two = await new_segment(seg, specialties=[x], languages=["de"])
        gone = await new_segment(seg, specialties=[x])
        await seg.patch(f"/segments/{gone['id']}", json={"status": "retired"})
        provider_id = await register(integ, "hospital", [x], ["en"])
        await register(integ, "hotel")
        await register(integ, "transfer")
        await post_capacity(integ, provider_id, x, {m: 6 for m in mondays()})
        world.administration.add(provider_id, "valid")
        start = await last_seq(dev)

        r = await dev.post("/assessments", json={"note": "quarterly review"}, headers={"Idempotency-Key": "q4"})
        assert r.status_code == 201, r.text
        assessment = r.json()
        assert r.headers["location"] == f"/assessments/{assessment['id']}"
        assert assessment["source"] == "computed" and assessment["as_of"] == day(0)
        assert assessment["note"] == "quarterly review"
        gaps = (await dev.get("/gaps")).json()["items"]
        assert assessment["gaps"] == gaps  # the very figures a gap analysis gives, inputs included
        assert [g["segment_id"] for g in gaps] == [one["id"], two["id"]]
        assert gaps[0]["met"] is True and gaps[1]["shortfalls"]["languages"] == 1
        assert (await dev.get(f"/assessments/{assessment['id']}")).json() == assessment

        replay = await dev.post("/assessments", json={"note": "quarterly review"}, headers={"Idempotency-Key": "q4"})
        assert replay.status_code == 201 and replay.json()["id"] == assessment["id"]
        assert replay.headers["idempotent-replayed"] == "true"
        other = await dev.post("/assessments", json={"note": "another"}, headers={"Idempotency-Key": "q4"})
        assert other.status_code == 409
        assert [p["assessment_id"] for p in await history(dev)] == [assessment["id"]] * 2

        (event,) = await feed(dev, start)
        assert event["type"] == "assessment.recorded" and event["subject"] == assessment["id"]
        assert event["data"] == {
            "assessment_id": assessment["id"], "as_of": day(0), "source": "computed",
            "segments": [{"segment_id": g["segment_id"], "met": g["met"], "shortfalls": g["shortfalls"]}
                         for g in sorted(gaps, key=lambda g: g["segment_id"])]}


async def test_no_active_segment_is_nothing_to_assess(world: World) -> None:
    async with world.client("development") as dev:
        r = await dev.post("/assessments", json={})
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
        assert await history(dev) == []


async def test_recorded_figures_of_past_dates_give_a_history_oldest_first(world: World) -> None:
    async with world.client("segmentation") as seg, world.client("development") as dev:
        target = await new_segment(seg, languages=["de", "en"],
                                   threshold={"min_accredited_providers": 3, "min_weekly_capacity": 60})
        other = await new_segment(seg, languages=["en"])
        start = await last_seq(dev)
        posted = {}
        # Recorded out of order: the history is by date, not by when it was entered.
        for as_of, current in ((day(-30), figures(2, 48, ["en", "de"])), (day(-90), figures(1, 20, [], 0, 0)),
                               (day(-60), figures(2, 35, ["en"], 1, 0, weakest_week="2026-W30"))):
            r = await dev.post("/assessments", json={"as_of": as_of, "segments": [
                {"segment_id": target["id"], "current": current}]})
            assert r.status_code == 201, r.text
            posted[as_of] = r.json()
            assert r.json()["source"] == "recorded" and r.json()["gaps"][0]["inputs"] is None
        r = await dev.post("/assessments", json={"as_of": day(-60), "segments": [
            {"segment_id": other["id"], "current": figures(2, 30, ["en"])}]})
        assert r.status_code == 201

        points = await history(dev, target["id"])
        assert [(p["as_of"], p["source"]) for p in points] == [(day(-90), "recorded"), (day(-60), "recorded"),
                                                               (day(-30), "recorded")]
        assert [p["shortfalls"] for p in points] == [
            {"accredited_providers": 2, "weekly_capacity": 40, "languages": 2, "supporting_stakeholders": 2},
            {"accredited_providers": 1, "weekly_capacity": 25, "languages": 1, "supporting_stakeholders": 1},
            {"accredited_providers": 1, "weekly_capacity": 12, "languages": 0, "supporting_stakeholders": 0}]
        assert points[1]["current"] == {"accredited_providers": 2, "weekly_capacity": 35, "weakest_week": "2026-W30",
                                        "languages_covered": ["en"], "languages_missing": ["de"], "hotels": 1,
                                        "transfer_firms": 0}
        assert points[2]["current"]["languages_covered"] == ["de", "en"]  # in the segment's order
        assert {p["assessment_id"] for p in points} == {a["id"] for a in posted.values()}
        assert all(p["met"] is False and p["segment_name"] == target["name"] for p in points)
        assert [p["segment_id"] for p in await history(dev, other["id"])] == [other["id"]]
        assert [p["as_of"] for p in await history(dev)] == [day(-90), day(-60), day(-60), day(-30)]

        walked, cursor = [], None
        for _ in range(10):
            page = (await dev.get("/assessments", params={"segment_id": target["id"], "limit": 1,
                                                          **({"cursor": cursor} if cursor else {})})).json()
            walked += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
        assert walked == points
        events = await feed(dev, start)
        assert [(e["type"], e["data"]["source"], e["data"]["as_of"]) for e in events] == [
            ("assessment.recorded", "recorded", d) for d in (day(-30), day(-90), day(-60), day(-60))]


async def test_bad_assessments_are_422_and_record_nothing(world: World) -> None:
    async with world.client("segmentation") as seg, world.client("development") as dev:
        segment = await new_segment(seg, languages=["de", "en"])
        sid = segment["id"]
        good = {"segment_id": sid, "current": figures(1, 10, ["en"])}
        cases = [
            ({"as_of": day(1), "segments": [good]}, "as_of"),
            ({"as_of": day(-1)}, "as_of"),
            ({"segments": []}, "segments"),
            ({"segments": [{"segment_id": "seg_nope", "current": figures(1, 1, [])}]}, "segments.0.segment_id"),
            ({"segments": [good, good]}, "segments.1.segment_id"),
            ({"segments": [{"segment_id": sid, "current": figures(1, 1, ["en", "it"])}]},
             "segments.0.current.languages_covered.1"),
            ({"segments": [{"segment_id": sid, "current": figures(1, 1, ["xx"])}]},
             "segments.0.current.languages_covered.0"),
            ({"segments": [{"segment_id": sid, "current": figures(-1, 1, [])}]},
             "segments.0.current.accredited_providers"),
            ({"segments": [{"segment_id": sid, "current": figures(1, 1, [], weakest_week="2026-W60")}]},
             "segments.0.current.weakest_week"),
            ({"segments": [{"segment_id": sid, "current": {**figures(1, 1, []), "mood": "good"}}]},
             "segments.0.current.mood"),
            ({"as_of": "last week"}, "as_of"),
            ({"colour": "blue"}, "colour"),
        ]
        for body, field in cases:
            r = await dev.post("/assessments", json=body)
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
            assert r.json()["errors"][0]["field"] == field, (body, r.json())
        assert await history(dev) == []
        r = await dev.post("/assessments", json={"as_of": day(0), "segments": [good]})
        assert r.status_code == 201 and r.json()["as_of"] == day(0)


async def test_assessments_are_for_staff_only(world: World) -> None:
    async with world.client("development") as dev:
        for auth in (SignedAs(provider("stk_p")), FAC):
            for r in (await dev.get("/assessments", auth=auth), await dev.post("/assessments", json={}, auth=auth),
                      await dev.get("/assessments/asm_x", auth=auth)):
                assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
        assert (await dev.get("/assessments/asm_does_not_exist")).status_code == 404
