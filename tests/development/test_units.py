"""Fast unit tests of Development's pure functions: the gap rules, progress, steps, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from pentad.errors import Conflict, Invalid
from services.administration.client import AccreditationRef
from services.development import assessments, gaps, initiatives
from services.development.gaps import Found
from services.development.models import Initiative
from services.development.schemas import AssessmentIn, Current, CurrentIn, GapThreshold
from services.integration.client import StakeholderRef
from services.integration.schemas import WeeklyCapacity, iso_week
from services.segmentation.client import SegmentRef, ThresholdRef

MONDAY = date(2026, 11, 30)
WEEKS = gaps.weeks_from(MONDAY)


def segment(**changes: Any) -> SegmentRef:
    values: dict[str, Any] = {"id": "seg_1", "name": "Knees for DACH", "status": "active",
                              "specialties": ["orthopaedics", "rehabilitation"], "source_markets": ["DE"],
                              "languages": ["de", "en"],
                              "threshold": ThresholdRef(min_accredited_providers=2, min_weekly_capacity=30)}
    return SegmentRef(**{**values, **changes})


def stakeholder(sid: str, kind: str = "hospital", specialties: tuple[str, ...] = ("orthopaedics",),
                languages: tuple[str, ...] = ("en",), status: str = "active") -> StakeholderRef:
    return StakeholderRef(id=sid, kind=kind, name=sid.upper(), status=status, languages=list(languages),
                          specialties=list(specialties))


def accreditation(sid: str, status: str = "valid") -> AccreditationRef:
    return AccreditationRef(id=f"acc_{sid}_{status}", stakeholder_id=sid, scheme_id="sch_jci", status=status,
                            issued_on=date(2025, 1, 1), expires_on=date(2028, 1, 1))


def supply(sid: str, specialty: str, monday: date, slots: int) -> WeeklyCapacity:
    return WeeklyCapacity(stakeholder_id=sid, specialty=specialty, week=iso_week(monday), starts_on=monday,
                          fresh_slots=slots)


@pytest.mark.parametrize("offset", range(7))
def test_the_weeks_are_eight_whole_iso_weeks_from_the_first_monday_on_or_after_today(offset: int) -> None:
    today = MONDAY - timedelta(days=offset)  # Monday itself, then Sunday back to Tuesday
    weeks = gaps.weeks_from(today)
    assert weeks[0] == (today if offset == 0 else MONDAY)
    assert weeks == [weeks[0] + timedelta(weeks=i) for i in range(8)]
    assert all(w.weekday() == 0 for w in weeks)
    assert iso_week(date(2026, 12, 28)) == "2026-W53" and iso_week(date(2027, 1, 4)) == "2027-W01"


def test_only_active_accredited_providers_of_the_segment_count() -> None:
    found = Found(
        stakeholders=[stakeholder("a", languages=("de",)), stakeholder("b", "clinic", ("rehabilitation", "dental")),
                      stakeholder("c", "dental", ("orthopaedics",), ("en",)),                # pending only
                      stakeholder("d", status="inactive"), stakeholder("e", "wellness", ("spa_therapies",)),
                      stakeholder("f", "hotel", ("orthopaedics",)), stakeholder("g", "transfer"),
                      stakeholder("h", "hotel", status="inactive")],
        accreditations=[accreditation("a"), accreditation("b", "expiring"), accreditation("c", "pending"),
                        accreditation("c", "expired"), accreditation("d"), accreditation("e"), accreditation("f")],
        capacity=[supply("a", "orthopaedics", WEEKS[0], 10), supply("b", "rehabilitation", WEEKS[0], 25),
                  supply("b", "dental", WEEKS[0], 99), supply("c", "orthopaedics", WEEKS[0], 99),
                  supply("a", "orthopaedics", WEEKS[3], 5), supply("a", "orthopaedics", WEEKS[7] + timedelta(7), 99),
                  *(supply("a", "orthopaedics", w, 40) for w in WEEKS[4:])],
        weeks=WEEKS)
    gap = gaps.analyse(segment(), found)
    assert [(p.stakeholder_id, p.accredited, p.specialties) for p in gap.inputs.providers] == [  # type: ignore[union-attr]
        ("a", True, ["orthopaedics"]), ("b", True, ["rehabilitation"]), ("c", False, ["orthopaedics"])]
    assert [w.fresh_slots for w in gap.inputs.weeks] == [35, 0, 0, 5, 40, 40, 40, 40]  # type: ignore[union-attr]
    assert gap.current == Current(accredited_providers=2, weekly_capacity=0, weakest_week=iso_week(WEEKS[1]),
                                  languages_covered=["de", "en"], languages_missing=[], hotels=1, transfer_firms=1)
    assert gap.shortfalls.model_dump() == {"accredited_providers": 0, "weekly_capacity": 30, "languages": 0,
                                           "supporting_stakeholders": 0}
    assert gap.met is False


def test_a_segment_above_its_threshold_has_no_negative_shortfall() -> None:
    threshold = GapThreshold(min_accredited_providers=2, min_weekly_capacity=10, languages=["en"], hotels=1,
                             transfer_firms=1)
    current = Current(accredited_providers=9, weekly_capacity=500, languages_covered=["en"], languages_missing=[],
                      hotels=4, transfer_firms=0)
    assert gaps.shortfalls_of(threshold, current).model_dump() == {
        "accredited_providers": 0, "weekly_capacity": 0, "languages": 0, "supporting_stakeholders": 1}


def test_nothing_at_all_is_the_whole_threshold_missing() -> None:
    gap = gaps.analyse(segment(languages=["de", "en", "it"]), Found([], [], [], WEEKS))
    assert gap.shortfalls.model_dump() == {"accredited_providers": 2, "weekly_capacity": 30, "languages": 3,
                                           "supporting_stakeholders": 2}
    assert gap.current.weakest_week == iso_week(WEEKS[0])  # a tie goes to the earliest week
    assert gap.current.languages_missing == ["de", "en", "it"]


def test_a_recorded_assessment_uses_the_same_rules() -> None:
    figures = CurrentIn(accredited_providers=1, weekly_capacity=12, languages_covered=["en"], hotels=1,
                        transfer_firms=0)
    gap = gaps.recorded(segment(languages=["de", "en"]), figures)
    assert gap.inputs is None and gap.current.languages_missing == ["de"]
    assert gap.shortfalls.model_dump() == {"accredited_providers": 1, "weekly_capacity": 18, "languages": 1,
                                           "supporting_stakeholders": 1}


def _initiative(status: str, milestones: list[dict[str, Any]]) -> Initiative:
    now = datetime.now(UTC)
    return Initiative(id="ini_1", title="t", description=None, segment_id="seg_1", gap="languages", owner="o",
                      budget={"amount": "10.00", "currency": "EUR"}, milestones=milestones, status=status,
                      status_reason=None, version=1, created_at=now, updated_at=now)


@pytest.mark.parametrize(("status", "done", "progress", "overdue"), [
    ("proposed", [True, False, False], 0.3333, [False, True, False]),
    ("in_progress", [True, True, True], 1.0, [False, False, False]),
    ("cancelled", [False, False, False], 0.0, [False, False, False]),
    ("done", [], 1.0, []),
    ("approved", [], 0.0, []),
])
def test_progress_and_overdue_are_read_from_the_milestones(status: str, done: list[bool], progress: float,
                                                           overdue: list[bool]) -> None:
    dues = [MONDAY - timedelta(days=5), MONDAY - timedelta(days=1), MONDAY]  # due today is not overdue yet
    out = initiatives.present(_initiative(status, [{"title": f"m{i}", "due_on": dues[i].isoformat(), "done": d}
                                                   for i, d in enumerate(done)]), on=MONDAY)
    assert out.progress == progress and [m.overdue for m in out.milestones] == overdue
    assert out.overdue_milestones == sum(overdue)


def test_only_forward_steps_are_legal() -> None:
    legal = {(a, b) for a, targets in initiatives.TRANSITIONS.items() for b in targets}
    assert legal == {("proposed", "approved"), ("proposed", "cancelled"), ("approved", "in_progress"),
                     ("approved", "cancelled"), ("in_progress", "done"), ("in_progress", "cancelled")}
    with pytest.raises(Conflict, match="from approved it may go to: cancelled, in_progress"):
        initiatives.check_step("approved", "proposed")
    with pytest.raises(Conflict, match="m2"):
        initiatives.check_done([{"title": "m1", "done": True}, {"title": "m2", "done": False}])


def test_an_assessment_date_is_never_in_the_future_and_past_means_recorded() -> None:
    recorded = [{"segment_id": "seg_1", "current": {"accredited_providers": 0, "weekly_capacity": 0,
                                                    "hotels": 0, "transfer_firms": 0}}]
    for body in ({}, {"as_of": MONDAY}, {"as_of": MONDAY - timedelta(days=400), "segments": recorded}):
        assessments.check_as_of(AssessmentIn.model_validate(body), today=MONDAY)
    for body in ({"as_of": MONDAY + timedelta(days=1), "segments": recorded}, {"as_of": MONDAY - timedelta(days=1)}):
        with pytest.raises(Invalid) as caught:
            assessments.check_as_of(AssessmentIn.model_validate(body), today=MONDAY)
        assert caught.value.errors and caught.value.errors[0].field == "as_of"
