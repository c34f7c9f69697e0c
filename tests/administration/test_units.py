"""Fast unit tests of Administration's pure lifecycle rules and the settings they read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from pentad.errors import Conflict
from pentad.settings import Settings
from services.administration import lifecycle
from services.administration.lifecycle import AsOf

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
AS_OF = AsOf(now=NOW, expiring_days=90)


@pytest.mark.parametrize(("state", "offset", "expected"), [
    ("valid", 91, "valid"),
    ("valid", 90, "expiring"),    # the window's last day
    ("valid", 0, "expiring"),     # expires_on is the last valid day
    ("valid", -1, "expired"),
    ("pending", -1, "pending"),   # undecided evidence is not "expired": it was never valid
    ("suspended", 10, "suspended"),
    ("revoked", 500, "revoked"),
])
def test_accreditation_status_from_state_and_dates(state: str, offset: int, expected: str) -> None:
    expires_on = TODAY + timedelta(days=offset)
    assert lifecycle.accreditation_status(state=state, expires_on=expires_on, as_of=AS_OF) == expected


def test_a_zero_window_means_never_expiring() -> None:
    as_of = AsOf(now=NOW, expiring_days=0)
    assert lifecycle.accreditation_status(state="valid", expires_on=TODAY, as_of=as_of) == "expiring"
    assert lifecycle.accreditation_status(state="valid", expires_on=TODAY + timedelta(days=1), as_of=as_of) == "valid"


def test_today_is_the_utc_date() -> None:
    late_in_auckland = datetime(2026, 6, 1, 23, 30, tzinfo=UTC).astimezone(ZoneInfo("Pacific/Auckland"))
    assert AsOf(now=late_in_auckland).today == date(2026, 6, 1)


@pytest.mark.parametrize(("state", "target", "allowed"), [
    ("pending", "valid", None), ("pending", "revoked", None), ("pending", "suspended", "revoked, valid"),
    ("valid", "suspended", None), ("valid", "revoked", None), ("valid", "pending", "revoked, suspended"),
    ("suspended", "valid", None), ("suspended", "revoked", None),
    ("revoked", "valid", "none (revoked is final)"), ("revoked", "suspended", "none (revoked is final)"),
])
def test_accreditation_transitions(state: str, target: str, allowed: str | None) -> None:
    if allowed is None:
        lifecycle.check_accreditation_transition(state=state, target=target)
        return
    with pytest.raises(Conflict) as caught:
        lifecycle.check_accreditation_transition(state=state, target=target)
    assert caught.value.detail is not None and caught.value.detail.endswith(f"allowed: {allowed}.")
    assert caught.value.errors is not None and caught.value.errors[0].field == "status"


def test_suspending_and_revoking_need_reasons_verifying_does_not() -> None:
    assert lifecycle.NEEDS_REASON == {"suspended", "revoked"}


@pytest.mark.parametrize(("cancelled", "offset", "expected"), [
    (False, 0, "active"), (False, 200, "active"), (False, -1, "lapsed"),
    (True, 200, "cancelled"), (True, -5, "cancelled"),
])
def test_membership_status(cancelled: bool, offset: int, expected: str) -> None:
    status = lifecycle.membership_status(cancelled=cancelled, period_end=TODAY + timedelta(days=offset), as_of=AS_OF)
    assert status == expected


@pytest.mark.parametrize(("status", "target", "ok"), [
    ("open", "investigating", True), ("open", "resolved", False), ("open", "dismissed", False),
    ("investigating", "resolved", True), ("investigating", "dismissed", True), ("investigating", "open", False),
    ("resolved", "investigating", False), ("dismissed", "open", False),
])
def test_complaint_transitions(status: str, target: str, ok: bool) -> None:
    if ok:
        lifecycle.check_complaint_transition(status=status, target=target)
    else:
        with pytest.raises(Conflict):
            lifecycle.check_complaint_transition(status=status, target=target)


def test_complaint_due_dates_and_overdue() -> None:
    sla = Settings().complaint_sla_hours
    due = lifecycle.complaint_due_at(opened_at=NOW, severity="critical", sla_hours=sla)
    assert due == NOW + timedelta(hours=24)
    later = AsOf(now=due + timedelta(seconds=1))
    assert lifecycle.complaint_overdue(status="investigating", due_at=due, as_of=later)
    assert not lifecycle.complaint_overdue(status="open", due_at=due, as_of=AsOf(now=due))
    assert not lifecycle.complaint_overdue(status="resolved", due_at=due, as_of=later)


@pytest.mark.parametrize(("day", "years", "expected"), [
    (date(2024, 2, 29), 3, date(2027, 2, 28)), (date(2024, 2, 29), 4, date(2028, 2, 29)),
    (date(2025, 7, 15), 3, date(2028, 7, 15)),
])
def test_add_years(day: date, years: int, expected: date) -> None:
    assert lifecycle.add_years(day, years) == expected


def test_settings_fill_missing_severities_and_refuse_unknown_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENTAD_COMPLAINT_SLA_HOURS", '{"critical": 4}')
    monkeypatch.setenv("PENTAD_ACCREDITATION_EXPIRING_DAYS", "60")
    settings = Settings()
    assert settings.complaint_sla_hours == {"low": 720, "medium": 168, "high": 72, "critical": 4}
    assert settings.accreditation_expiring_days == 60
    for bad in ('{"urgent": 1}', '{"low": 0}'):
        monkeypatch.setenv("PENTAD_COMPLAINT_SLA_HOURS", bad)
        with pytest.raises(ValidationError):
            Settings()
