"""The coordinator's durable actions, in one process: onboarding a provider and launching a
campaign through the real pillars (Promotion faked), their failures and compensations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dmo.conftest_actions import (  # noqa: F401 - the fixture
    ActionWorld,
    actions_world,
    administration_of,
    finished,
    onboarding,
    ready_segment,
    stakeholders_named,
    start,
    unready_segment,
)
from tests.pillars import unique


async def test_onboarding_registers_accredits_and_makes_a_member(actions_world: ActionWorld) -> None:
    body = onboarding()
    async with actions_world.client("dmo") as dmo:
        started = await start(dmo, "onboard-provider", body)
        assert started["status"] == "running" and started["kind"] == "onboard-provider"
        assert [(s["name"], s["status"]) for s in started["steps"]] == [
            ("register_stakeholder", "pending"), ("submit_accreditation", "pending"), ("open_membership", "pending")]
        assert [s["idempotency_key"] for s in started["steps"]] == [
            f"dmo-{started['id']}-{n}" for n in ("register_stakeholder", "submit_accreditation", "open_membership")]
        action = await finished(dmo, started["id"])
    assert action["status"] == "succeeded" and action["reasons"] == [], action
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
