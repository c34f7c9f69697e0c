"""Fast checks of the actions' pure parts: how a pillar's answer reads, the readiness reasons,
the onboarding's stored input."""

from __future__ import annotations

from datetime import date

import pytest

from pentad.client import UpstreamError, UpstreamUnavailable
from services.development.schemas import Gap
from services.dmo import launch, onboard
from services.dmo.action_schemas import OnboardIn
from services.dmo.steps import Refused, key_of, outcome_of
from tests.dmo.conftest_actions import onboarding


@pytest.mark.parametrize("status", [400, 404, 409, 412, 422])
def test_a_pillars_4xx_is_a_business_failure_with_its_field_errors(status: int) -> None:
    problem = {"status": status, "title": "Nope", "detail": "Unknown scheme.", "instance": "/x",
               "errors": [{"field": "body.scheme_id", "message": "unknown", "value": "s"}]}
    refused = outcome_of(UpstreamError(f"administration answered {status}: Unknown scheme.",
                                       upstream_status=status, problem=problem))
    assert isinstance(refused, Refused) and refused.status == status
    assert refused.reason == f"administration answered {status}: Unknown scheme. (body.scheme_id: unknown)"
    assert refused.problem == {k: v for k, v in problem.items() if k != "instance"}


@pytest.mark.parametrize("exc", [UpstreamUnavailable("down"), UpstreamError("x", upstream_status=500),
                                 UpstreamError("x", upstream_status=503), UpstreamError("x", upstream_status=429),
                                 UpstreamError("x", upstream_status=408), RuntimeError("bug")],
                         ids=["unreachable", "500", "503", "429", "408", "other"])
def test_what_may_pass_is_tried_again(exc: Exception) -> None:
    assert outcome_of(exc) is None


def test_a_refusal_raised_by_a_step_stays_itself() -> None:
    refused = Refused("campaign c does not exist", status=404)
    assert outcome_of(refused) is refused


def test_step_keys_are_the_action_and_the_step() -> None:
    assert key_of("act_1", "open_membership") == "dmo-act_1-open_membership"


def test_readiness_reasons_carry_the_numbers() -> None:
    gap = Gap.model_validate({
        "segment_id": "seg_1", "segment_name": "One", "met": False,
        "threshold": {"min_accredited_providers": 3, "min_weekly_capacity": 40, "languages": ["de", "it"],
                      "hotels": 1, "transfer_firms": 1},
        "current": {"accredited_providers": 1, "weekly_capacity": 12, "weakest_week": "2026-W50",
                    "languages_covered": ["de"], "languages_missing": ["it"], "hotels": 1, "transfer_firms": 0},
        "shortfalls": {"accredited_providers": 2, "weekly_capacity": 28, "languages": 1,
                       "supporting_stakeholders": 1}})
    assert launch._reasons(gap) == [
        "segment seg_1: accredited providers: 1 of 3 needed (short by 2)",
        "segment seg_1: fresh weekly capacity: 12 slots in the weakest week (2026-W50) of 40 needed (short by 28)",
        "segment seg_1: languages no accredited provider speaks: it (short by 1)",
        "segment seg_1: supporting stakeholders: 1 of 1 hotels and 0 of 1 transfer firms (short by 1)"]


@pytest.mark.parametrize(("today", "end"), [(date(2026, 3, 1), "2027-02-28"), (date(2028, 2, 29), "2029-02-28")])
def test_the_membership_year_is_fixed_when_the_action_is_made(today: date, end: str) -> None:
    stored = onboard.action_input(OnboardIn.model_validate(onboarding("Clinic")), today=today)
    assert stored["membership"] == {"tier": "standard", "dues": {"amount": "1200.00", "currency": "EUR"},
                                    "period_start": today.isoformat(), "period_end": end}
    assert stored["stakeholder"]["name"] == "Clinic" and "expires_on" not in stored["accreditation"]
