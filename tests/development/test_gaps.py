"""Gap analysis through the real pillars: exact shortfalls on a known destination, and a 503
naming the pillar that is down rather than a gap computed from part of the data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from pentad.settings import Settings
from services.development.client import DevelopmentClient
from tests.development.conftest import World
from tests.development.helpers import (
    initiative_body,
    mondays,
    new_segment,
    new_specialty,
    post_capacity,
    register,
    week,
)
from tests.pillars import FAC, PROBLEM, unique
from tests.support import SECRET, SignedAs, free_port, provider


async def destination(world: World) -> dict[str, Any]:
    """Two specialties, three providers offering them (two accredited), a hotel, no transfer firm."""
    adm = world.administration
    async with world.client("segmentation") as seg, world.client("integration") as integ:
        x, y, z = await new_specialty(seg), await new_specialty(seg), await new_specialty(seg)
        segment = await new_segment(seg, specialties=[x, y], languages=["de", "en", "it"],
                                    threshold={"min_accredited_providers": 3, "min_weekly_capacity": 40})
        a = await register(integ, "hospital", [x], ["hr", "en", "de"])
        b = await register(integ, "clinic", [y, "orthopaedics"], ["hr", "en"])
        c = await register(integ, "dental", [x], ["it"])
        d = await register(integ, "rehab", [x], ["it"], status="inactive")
        g = await register(integ, "wellness", [z], ["it"])
        hotel = await register(integ, "hotel")
        await register(integ, "hotel", status="inactive")
        w = mondays()
        await post_capacity(integ, a, x, {w[0]: 10, w[0] + timedelta(days=1): 5, w[1]: 20,
                                          **{m: 30 for m in w[2:]}, w[7] + timedelta(days=7): 100})
        await post_capacity(integ, b, y, {w[0] + timedelta(days=6): 12, w[1]: 1, **{m: 25 for m in w[2:]}})
        await post_capacity(integ, b, "orthopaedics", {m: 50 for m in w})  # not the segment's specialty
        await post_capacity(integ, c, x, {w[1]: 100})                      # not accredited (yet)
        await post_capacity(integ, g, z, {m: 80 for m in w})
    # 500 accreditations of others first: the client has to walk the fake's pages to find these.
    for _ in range(500):
        adm.add(unique("stk_other"))
    ids = {"a": adm.add(a, "valid"), "b": adm.add(b, "expiring"), "c": adm.add(c, "pending"),
           "d": adm.add(d, "valid"), "g": adm.add(g, "valid")}
    adm.add(c, "revoked")
    return {"segment": segment, "x": x, "y": y, "a": a, "b": b, "c": c, "hotel": hotel, "acc": ids, "weeks": w}


async def gap_of(dev: httpx.AsyncClient, segment_id: str) -> dict[str, Any]:
    r = await dev.get("/gaps", params={"segment_id": segment_id})
    assert r.status_code == 200, r.text
    (gap,) = r.json()["items"]
    return dict(gap)


async def test_a_known_destination_gives_the_exact_shortfalls(world: World) -> None:
    d = await destination(world)
    w = d["weeks"]
    async with world.client("development") as dev:
        gap = await gap_of(dev, d["segment"]["id"])
    assert gap["segment_id"] == d["segment"]["id"] and gap["segment_name"] == d["segment"]["name"]
    assert gap["threshold"] == {"min_accredited_providers": 3, "min_weekly_capacity": 40,
                                "languages": ["de", "en", "it"], "hotels": 1, "transfer_firms": 1}
    assert gap["current"] == {"accredited_providers": 2, "weekly_capacity": 21, "weakest_week": week(w[1]),
                              "languages_covered": ["de", "en"], "languages_missing": ["it"],
                              "hotels": 1, "transfer_firms": 0}
    assert gap["shortfalls"] == {"accredited_providers": 1, "weekly_capacity": 19, "languages": 1,
                                 "supporting_stakeholders": 1}
    assert gap["met"] is False

    inputs = gap["inputs"]
    assert sorted((p["stakeholder_id"], p["accredited"], tuple(p["accreditation_ids"]), tuple(p["specialties"]))
                  for p in inputs["providers"]) == sorted([
        (d["a"], True, (d["acc"]["a"],), (d["x"],)), (d["b"], True, (d["acc"]["b"],), (d["y"],)),
        (d["c"], False, (), (d["x"],))])
    assert [(i["week"], i["starts_on"], i["fresh_slots"]) for i in inputs["weeks"]] == [
        (week(w[0]), w[0].isoformat(), 27), (week(w[1]), w[1].isoformat(), 21),
        *((week(m), m.isoformat(), 55) for m in w[2:])]
    assert inputs["weeks"][0]["by_provider"] == {d["a"]: 15, d["b"]: 12}
    assert inputs["supporting"] == [{"stakeholder_id": d["hotel"], "name": inputs["supporting"][0]["name"],
                                     "kind": "hotel"}]


async def test_closing_the_gaps_moves_every_shortfall_to_zero(world: World) -> None:
    d = await destination(world)
    sid = d["segment"]["id"]
    world.administration.set_status(d["acc"]["c"], "valid")  # the dental clinic's evidence is verified
    async with world.client("integration") as integ, world.client("development") as dev:
        await register(integ, "transfer")
        gap = await gap_of(dev, sid)
        assert gap["shortfalls"] == {"accredited_providers": 0, "weekly_capacity": 13, "languages": 0,
                                     "supporting_stakeholders": 0}
        assert gap["current"]["weakest_week"] == week(d["weeks"][0]) and gap["met"] is False
        await post_capacity(integ, d["a"], d["x"], {d["weeks"][0] + timedelta(days=2): 13})
        gap = await gap_of(dev, sid)
        assert gap["shortfalls"] == {"accredited_providers": 0, "weekly_capacity": 0, "languages": 0,
                                     "supporting_stakeholders": 0}
        assert gap["met"] is True and gap["current"]["weekly_capacity"] == 40

        # A provider that loses its accreditation stops counting at once.
        world.administration.set_status(d["acc"]["a"], "suspended")
        gap = await gap_of(dev, sid)
        assert gap["shortfalls"]["accredited_providers"] == 1 and gap["current"]["languages_missing"] == ["de"]
        assert gap["met"] is False


async def test_every_active_segment_without_segment_id_and_through_the_typed_client(world: World) -> None:
    d = await destination(world)
    async with world.client("segmentation") as seg, world.client("development") as dev:
        easy = await new_segment(seg, specialties=[d["x"]], languages=[],
                                 threshold={"min_accredited_providers": 0, "min_weekly_capacity": 0})
        retired = await new_segment(seg, specialties=[d["x"]])
        assert (await seg.patch(f"/segments/{retired['id']}", json={"status": "retired"})).status_code == 200
        r = await dev.get("/gaps")
        assert r.status_code == 200, r.text
        body = r.json()
        assert [g["segment_id"] for g in body["items"]] == [d["segment"]["id"], easy["id"]]
        assert body["next_cursor"] is None and "min_accredited_providers" in body["method"]
        by_id = {g["segment_id"]: g for g in body["items"]}
        assert by_id[easy["id"]]["shortfalls"] == {"accredited_providers": 0, "weekly_capacity": 0, "languages": 0,
                                                   "supporting_stakeholders": 1}
        assert by_id[d["segment"]["id"]] == await gap_of(dev, d["segment"]["id"])
        # A retired segment is still analysed when asked for by id.
        assert (await gap_of(dev, retired["id"]))["segment_id"] == retired["id"]

    settings = Settings(service="dmo", secret=SECRET, service_urls=world.pair.urls)
    async with httpx.AsyncClient() as http:
        client = DevelopmentClient.for_settings(http, settings)
        refs = await client.gaps()
        assert [(g.segment_id, g.met, g.shortfalls) for g in refs] == [
            (g["segment_id"], g["met"], g["shortfalls"]) for g in body["items"]]
        (one,) = await client.gaps(segment_id=easy["id"])
        assert one.segment_id == easy["id"] and one.shortfalls["supporting_stakeholders"] == 1


async def test_an_unknown_segment_is_422_and_gaps_are_for_staff_only(world: World) -> None:
    async with world.client("development") as dev:
        r = await dev.get("/gaps", params={"segment_id": "seg_does_not_exist"})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["errors"] == [{"field": "query.segment_id", "message": "unknown segment",
                                       "value": "seg_does_not_exist"}]
        for auth in (SignedAs(provider("stk_p")), FAC):
            r = await dev.get("/gaps", auth=auth)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        empty = await dev.get("/gaps")
        assert empty.status_code == 200 and empty.json()["items"] == []


async def test_a_pillar_that_is_down_is_a_503_naming_it_never_a_gap(world: World) -> None:
    d = await destination(world)
    sid = d["segment"]["id"]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for pillar in ("administration", "integration", "segmentation"):
        async with world.development_with(**{pillar: dead}) as dev:
            for r in (await dev.get("/gaps", params={"segment_id": sid}), await dev.get("/gaps"),
                      await dev.post("/assessments", json={})):
                assert r.status_code == 503, (pillar, r.text)
                assert r.headers["content-type"] == PROBLEM and r.json()["type"].endswith("/upstream-unavailable")
                assert f"{pillar} did not answer" in r.json()["detail"], r.json()
                assert "items" not in r.json() and "Traceback" not in r.text
            assert (await dev.get("/assessments")).json()["items"] == []
        if pillar == "segmentation":  # the other writes that read it fail the same way, and change nothing
            async with world.development_with(segmentation=dead) as dev:
                recorded = {"as_of": "2026-01-05", "segments": [{"segment_id": sid, "current": {
                    "accredited_providers": 1, "weekly_capacity": 1, "hotels": 1, "transfer_firms": 1}}]}
                for r in (await dev.post("/initiatives", json=initiative_body(sid)),
                          await dev.post("/assessments", json=recorded)):
                    assert r.status_code == 503 and "segmentation did not answer" in r.json()["detail"], r.text
                assert (await dev.get("/initiatives")).json()["items"] == []

    # Two down at once: the problem names both.
    async with world.development_with(administration=dead, integration=dead) as dev:
        r = await dev.get("/gaps", params={"segment_id": sid})
        assert r.status_code == 503 and "administration" in r.json()["detail"] and "integration" in r.json()["detail"]

    # A pillar that answers with an error is a 502 naming it.
    world.administration.failing = True
    async with world.client("development") as dev:
        r = await dev.get("/gaps", params={"segment_id": sid})
        assert r.status_code == 502 and r.json()["type"].endswith("/upstream-error")
        assert "administration answered 500" in r.json()["detail"]
    world.administration.failing = False
    async with world.client("development") as dev:
        assert (await dev.get("/gaps", params={"segment_id": sid})).status_code == 200
