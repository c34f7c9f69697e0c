"""The coordinator's durable actions, in one process: onboarding a provider and launching a
campaign through the real pillars (Promotion faked), their failures and compensations."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.dmo.conftest_actions import (
    ActionWorld,
    actions_world_fixture,  # noqa: F401 - the fixture ``actions_world``
    administration_of,
    finished,
    onboarding,
    ready_segment,
    stakeholders_named,
    start,
    unready_segment,
)
from tests.pillars import unique


def _finished_count(kind: str, status: str) -> float:
    return REGISTRY.get_sample_value("pentad_dmo_actions_finished_total", {"kind": kind, "status": status}) or 0.0


async def test_onboarding_registers_accredits_and_makes_a_member(actions_world: ActionWorld) -> None:
    body = onboarding()
    counted = _finished_count("onboard-provider", "succeeded")
    async with actions_world.client("dmo") as dmo:
        started = await start(dmo, "onboard-provider", body)
        assert started["status"] == "running" and started["kind"] == "onboard-provider"
        assert [(s["name"], s["status"]) for s in started["steps"]] == [
            ("register_stakeholder", "pending"), ("submit_accreditation", "pending"), ("open_membership", "pending")]
        assert [s["idempotency_key"] for s in started["steps"]] == [
            f"dmo-{started['id']}-{n}" for n in ("register_stakeholder", "submit_accreditation", "open_membership")]
        action = await finished(dmo, started["id"])
    assert action["status"] == "succeeded" and action["reasons"] == [], action
    assert _finished_count("onboard-provider", "succeeded") == counted + 1  # the metric operators alert on
    assert all(s["status"] == "succeeded" and s["attempts"] == 1 and s["finished_at"] for s in action["steps"])
    (stakeholder,) = await stakeholders_named(actions_world, body["stakeholder"]["name"])
    assert stakeholder["status"] == "active" and action["records"]["stakeholder_id"] == stakeholder["id"]
    held = await administration_of(actions_world, stakeholder["id"])
    (accreditation,) = held["accreditations"]
    (membership,) = held["memberships"]
    assert accreditation["id"] == action["records"]["accreditation_id"] and accreditation["status"] == "pending"
    assert accreditation["certificate_no"] == body["accreditation"]["certificate_no"]
    assert membership["id"] == action["records"]["membership_id"] and membership["status"] == "active"
    assert membership["tier"] == "standard" and membership["dues"] == {"amount": "1200.00", "currency": "EUR"}


async def test_a_refused_accreditation_deactivates_the_stakeholder_registered(actions_world: ActionWorld) -> None:
    body = onboarding(scheme_id="sch_no_such_scheme")
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "onboard-provider", body))["id"])
    assert action["status"] == "compensated", action
    steps = {s["name"]: s for s in action["steps"]}
    assert [steps[n]["status"] for n in ("register_stakeholder", "submit_accreditation", "open_membership")] == [
        "compensated", "failed", "skipped"]
    assert steps["submit_accreditation"]["error"]["status"] in (404, 422)
    assert steps["register_stakeholder"]["compensated_at"] is not None
    (reason,) = action["reasons"]
    assert reason.startswith("submit_accreditation: administration answered 422: Unknown scheme"), reason
    (stakeholder,) = await stakeholders_named(actions_world, body["stakeholder"]["name"])
    assert stakeholder["status"] == "inactive"
    assert await administration_of(actions_world, stakeholder["id"]) == {"accreditations": [], "memberships": []}


async def test_a_refused_membership_revokes_the_accreditation_and_deactivates(
        actions_world: ActionWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Administration takes any membership of a new stakeholder, so its refusal is staged: the
    coordinator (in this process) is made to hear a 422 for that step alone."""
    from pentad.client import UpstreamError
    from services.administration.client import AdministrationClient

    async def refuse(self: Any, membership: dict[str, Any], *, idempotency_key: str) -> Any:
        raise UpstreamError("administration answered 422: dues refused", upstream_status=422,
                            problem={"status": 422, "detail": "dues refused"})

    monkeypatch.setattr(AdministrationClient, "open_membership", refuse)
    body = onboarding()
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "onboard-provider", body))["id"])
    assert action["status"] == "compensated", action
    assert [s["status"] for s in action["steps"]] == ["compensated", "compensated", "failed"]
    assert action["reasons"] == ["open_membership: administration answered 422: dues refused"]
    (stakeholder,) = await stakeholders_named(actions_world, body["stakeholder"]["name"])
    assert stakeholder["status"] == "inactive"
    (accreditation,) = (await administration_of(actions_world, stakeholder["id"]))["accreditations"]
    assert accreditation["status"] == "revoked" and action["id"] in accreditation["reason"]


async def test_bad_input_is_a_422_and_starts_nothing(actions_world: ActionWorld) -> None:
    async with actions_world.client("dmo") as dmo:
        before = (await dmo.get("/actions", params={"limit": 500})).json()["items"]
        body = onboarding()
        body["membership"]["tier"] = "platinum"
        body["accreditation"]["surprise"] = 1
        r = await dmo.post("/actions/onboard-provider", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        fields = {e["field"] for e in r.json()["errors"]}
        assert any("tier" in f for f in fields) and any("surprise" in f for f in fields), fields
        r = await dmo.post("/actions/launch-campaign", json={"campaign_id": ""})
        assert r.status_code == 422
        assert (await dmo.get("/actions", params={"limit": 500})).json()["items"] == before
        assert (await dmo.get("/actions/act_nope")).status_code == 404


async def test_the_same_idempotency_key_answers_the_same_action(actions_world: ActionWorld) -> None:
    body, key = onboarding(), unique("key")
    async with actions_world.client("dmo") as dmo:
        first = await start(dmo, "onboard-provider", body, key=key)
        again = await dmo.post("/actions/onboard-provider", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 202 and again.json()["id"] == first["id"]
        assert again.headers.get("idempotent-replayed") == "true"
        other = await dmo.post("/actions/onboard-provider", json=onboarding(), headers={"Idempotency-Key": key})
        assert other.status_code == 409
        await finished(dmo, first["id"])
    assert len(await stakeholders_named(actions_world, body["stakeholder"]["name"])) == 1


async def test_a_ready_segment_launches_its_campaign(actions_world: ActionWorld) -> None:
    campaign = unique("cmp")
    actions_world.promotion.add(campaign, [await ready_segment(actions_world)])
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "launch-campaign", {"campaign_id": campaign}))["id"])
    assert action["status"] == "succeeded" and action["reasons"] == [], action
    assert [(s["name"], s["status"]) for s in action["steps"]] == [
        ("read_campaign", "succeeded"), ("check_readiness", "succeeded"), ("activate_campaign", "succeeded")]
    assert action["steps"][2]["result"] == {"status": "active"}
    state = actions_world.promotion.load()
    assert state["activations"] == [{"campaign_id": campaign, "action_id": action["id"]}]
    assert f"dmo-{action['id']}-activate_campaign" in state["keys"]


async def test_an_unready_segment_refuses_the_launch_with_its_numbers(actions_world: ActionWorld) -> None:
    campaign, segment = unique("cmp"), await unready_segment(actions_world, providers=2, weekly=30)
    ready = await ready_segment(actions_world)
    actions_world.promotion.add(campaign, [ready, segment])
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "launch-campaign", {"campaign_id": campaign}))["id"])
    assert action["status"] == "failed", action
    assert [(s["name"], s["status"]) for s in action["steps"]] == [
        ("read_campaign", "succeeded"), ("check_readiness", "succeeded"), ("activate_campaign", "skipped")]
    short_of_providers, short_of_capacity = action["reasons"]
    assert short_of_providers == f"segment {segment}: accredited providers: 0 of 2 needed (short by 2)"
    assert short_of_capacity.startswith(f"segment {segment}: fresh weekly capacity: 0 slots in the weakest week (")
    assert short_of_capacity.endswith(") of 30 needed (short by 30)")
    checked = action["steps"][1]["result"]["segments"]
    assert [(s["segment_id"], s["ready"]) for s in checked] == [(ready, True), (segment, False)]
    assert checked[1]["shortfalls"] == {"accredited_providers": 2, "weekly_capacity": 30}
    assert actions_world.promotion.load()["campaigns"][campaign]["status"] == "draft"


async def test_a_refused_launch_opens_an_initiative_per_gap(actions_world: ActionWorld) -> None:
    campaign, segment = unique("cmp"), await unready_segment(actions_world)
    actions_world.promotion.add(campaign, [segment])
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "launch-campaign",
                                                  {"campaign_id": campaign, "open_initiatives": True}))["id"])
    assert action["status"] == "failed" and len(action["reasons"]) == 2, action
    assert [s["status"] for s in action["steps"]] == ["succeeded", "succeeded", "succeeded", "skipped"]
    async with actions_world.client("development") as dev:
        r = await dev.get("/initiatives", params={"segment_id": segment})
    opened = r.json()["items"]
    assert sorted(i["gap"] for i in opened) == ["accredited_providers", "weekly_capacity"]
    assert sorted(i["id"] for i in opened) == sorted(action["records"]["initiatives"])
    assert all(i["status"] == "proposed" and i["owner"] == "DMO coordinator" for i in opened)


async def test_launching_a_campaign_that_does_not_exist_fails(actions_world: ActionWorld) -> None:
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "launch-campaign", {"campaign_id": "cmp_nowhere"}))["id"])
    assert action["status"] == "failed" and action["reasons"] == [
        "read_campaign: campaign cmp_nowhere does not exist"]
    assert [s["status"] for s in action["steps"]] == ["failed", "skipped", "skipped"]


async def test_an_unavailable_pillar_is_waited_out_then_the_step_completes(actions_world: ActionWorld) -> None:
    campaign = unique("cmp")
    actions_world.promotion.add(campaign, [await ready_segment(actions_world)])
    actions_world.promotion.set_failing(True)
    try:
        async with actions_world.client("dmo") as dmo:
            started = await start(dmo, "launch-campaign", {"campaign_id": campaign})
            for _ in range(100):
                seen = (await dmo.get(f"/actions/{started['id']}")).json()
                if seen["steps"][0]["attempts"] >= 2:
                    break
                await asyncio.sleep(0.1)
            assert seen["status"] == "running" and seen["steps"][0]["status"] == "running", seen
            assert seen["steps"][0]["error"]["retrying"] is True and "500" in seen["steps"][0]["error"]["detail"]
            actions_world.promotion.set_failing(False)
            action = await finished(dmo, started["id"])
    finally:
        actions_world.promotion.set_failing(False)
    assert action["status"] == "succeeded", action
    assert action["steps"][0]["attempts"] >= 2 and action["steps"][0]["error"] is None


async def test_actions_are_listed_by_kind_and_status(actions_world: ActionWorld) -> None:
    async with actions_world.client("dmo") as dmo:
        done = await finished(dmo, (await start(dmo, "launch-campaign", {"campaign_id": "cmp_listed"}))["id"])
        r = await dmo.get("/actions", params={"kind": "launch-campaign", "status": "failed", "limit": 500})
        assert r.status_code == 200
        items = r.json()["items"]
        assert done["id"] in [a["id"] for a in items]
        assert all(a["kind"] == "launch-campaign" and a["status"] == "failed" for a in items)
        r = await dmo.get("/actions", params={"kind": "onboard-provider", "limit": 1})
        page = r.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        assert (await dmo.get("/actions", params={"status": "paused"})).status_code == 422


async def test_an_undo_whose_record_is_gone_counts_as_undone(actions_world: ActionWorld,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pentad.client import UpstreamError
    from services.integration.client import IntegrationClient

    async def gone(self: Any, stakeholder_id: str, status: str) -> Any:
        raise UpstreamError("integration answered 404: No stakeholder.", upstream_status=404, problem={"status": 404})

    monkeypatch.setattr(IntegrationClient, "set_status", gone)
    async with actions_world.client("dmo") as dmo:
        action = await finished(dmo, (await start(dmo, "onboard-provider", onboarding(scheme_id="sch_gone")))["id"])
    assert action["status"] == "compensated" and action["steps"][0]["status"] == "compensated", action
