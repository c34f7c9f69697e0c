"""The lifecycle rules of Administration, as pure functions of a record and the clock.

What is stored is only what a person decided (an accreditation's ``state``: pending,
valid, suspended, revoked; a membership's cancellation; a complaint's workflow step);
what follows from dates (``expiring``, ``expired``, ``lapsed``, ``overdue``) is computed
here on every read, so it is never stale. The SQL filters in ``accreditations.py``,
``memberships.py`` and ``complaints.py`` say the same in SQL, and the tests hold the two
to each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pentad.errors import Conflict, FieldError
from services.administration.schemas import (
    AccreditationState,
    AccreditationStatus,
    ComplaintStatus,
    MembershipStatus,
)


@dataclass(frozen=True, slots=True)
class AsOf:
    """The clock and the settings that turn dates into statuses, fixed for one request."""

    now: datetime
    expiring_days: int = 90
    sla_hours: Mapping[str, int] | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(UTC).date()

    @property
    def horizon(self) -> date:
        """The last ``expires_on`` that reads ``expiring`` today."""
        return self.today + timedelta(days=self.expiring_days)


def now() -> datetime:
    return datetime.now(UTC)


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# -- accreditations ------------------------------------------------------------------------------

ACCREDITATION_TRANSITIONS: dict[AccreditationState, frozenset[AccreditationState]] = {
    AccreditationState.pending: frozenset({AccreditationState.valid, AccreditationState.revoked}),
    AccreditationState.valid: frozenset({AccreditationState.suspended, AccreditationState.revoked}),
    AccreditationState.suspended: frozenset({AccreditationState.valid, AccreditationState.revoked}),
    AccreditationState.revoked: frozenset(),
}
NEEDS_REASON = frozenset({AccreditationState.suspended, AccreditationState.revoked})


def accreditation_status(*, state: str, expires_on: date, as_of: AsOf) -> AccreditationStatus:
    """A verified accreditation is ``valid`` until the window before ``expires_on``
    (``expiring``), and ``expired`` from the day after it; other states read as stored."""
    if state != AccreditationState.valid:
        return AccreditationStatus(state)
    if expires_on < as_of.today:
        return AccreditationStatus.expired
    if expires_on <= as_of.horizon:
        return AccreditationStatus.expiring
    return AccreditationStatus.valid


def _conflict(noun: str, current: str, target: str, allowed: frozenset[str]) -> Conflict:
    names = ", ".join(sorted(allowed)) or f"none ({current} is final)"
    message = f"from {current}, allowed: {names}"
    return Conflict(f"A {noun} cannot go from {current} to {target}; allowed: {names}.",
                    errors=[FieldError(field="status", message=message, value=target)])


def check_accreditation_transition(*, state: str, target: str) -> None:
    allowed = ACCREDITATION_TRANSITIONS[AccreditationState(state)]
    if target not in allowed:
        raise _conflict("accreditation", state, target, frozenset(s.value for s in allowed))


# -- memberships ---------------------------------------------------------------------------------

def membership_status(*, cancelled: bool, period_end: date, as_of: AsOf) -> MembershipStatus:
    """Active through ``period_end``, lapsed after it, unless cancelled."""
    if cancelled:
        return MembershipStatus.cancelled
    return MembershipStatus.lapsed if period_end < as_of.today else MembershipStatus.active


# -- complaints ----------------------------------------------------------------------------------

COMPLAINT_TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.open: frozenset({ComplaintStatus.investigating}),
    ComplaintStatus.investigating: frozenset({ComplaintStatus.resolved, ComplaintStatus.dismissed}),
    ComplaintStatus.resolved: frozenset(),
    ComplaintStatus.dismissed: frozenset(),
}
CLOSED = frozenset({ComplaintStatus.resolved, ComplaintStatus.dismissed})


def check_complaint_transition(*, status: str, target: str) -> None:
    allowed = COMPLAINT_TRANSITIONS[ComplaintStatus(status)]
    if target not in allowed:
        raise _conflict("complaint", status, target, frozenset(s.value for s in allowed))


def complaint_due_at(*, opened_at: datetime, severity: str, sla_hours: Mapping[str, int]) -> datetime:
    return opened_at + timedelta(hours=sla_hours[severity])


def complaint_overdue(*, status: str, due_at: datetime, as_of: AsOf) -> bool:
    """Still unresolved past its SLA."""
    return status not in CLOSED and due_at < as_of.now
