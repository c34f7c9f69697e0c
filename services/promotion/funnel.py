"""The enquiry funnel: new → routed → responded → quoted → booked → treated | lost.

Pure rules (no database): which step may follow which, which steps a caller takes by hand
(the rest follow from routing, a provider's response and a sent quote), and the audit row
every step leaves in ``enquiry_transitions``.
"""

from __future__ import annotations

from datetime import datetime

from pentad.errors import Conflict, FieldError
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.models import Enquiry, EnquiryTransition

NEXT: dict[S, frozenset[S]] = {
    S.new: frozenset({S.routed, S.lost}),
    # Back to new only when routing withdrew every provider (none can take it any more).
    S.routed: frozenset({S.responded, S.quoted, S.lost, S.new}),
    S.responded: frozenset({S.quoted, S.lost}),
    S.quoted: frozenset({S.booked, S.lost}),
    S.booked: frozenset({S.treated, S.lost}),
    S.treated: frozenset(),
    S.lost: frozenset(),
}
BY_HAND = frozenset({S.booked, S.treated, S.lost})  # PATCH /enquiries/{id} takes these
CLOSED = frozenset({S.treated, S.lost})
OPEN = frozenset(S) - CLOSED
# Still open to a provider's work: routed to it and not yet booked.
WORKABLE = frozenset({S.routed, S.responded, S.quoted})
RANK = {status: i for i, status in enumerate((S.new, S.routed, S.responded, S.quoted, S.booked, S.treated))}


def check(current: str, target: S) -> None:
    """A 409 naming the allowed steps when ``target`` cannot follow ``current``."""
    allowed = NEXT[S(current)]
    if target not in allowed:
        shown = ", ".join(sorted(allowed)) or f"none ({current} is final)"
        raise Conflict(f"An enquiry that is {current} cannot become {target}.",
                       errors=[FieldError(field="status", message=f"from {current}, allowed: {shown}",
                                          value=target.value)])


def move(enquiry: Enquiry, target: S, *, actor: str, at: datetime, reason: str | None = None
         ) -> EnquiryTransition:
    """Take the step (checked) and give the audit row to add."""
    check(enquiry.status, target)
    step = EnquiryTransition(enquiry_id=enquiry.id, from_status=enquiry.status, to_status=target.value, at=at,
                             actor=actor, reason=reason)
    enquiry.status = target.value
    enquiry.status_reason = reason
    if target in CLOSED:
        enquiry.closed_at = at
    return step


def advance_to(current: str, target: S) -> list[S]:
    """The steps from ``current`` up to ``target`` along the funnel (a quote sent before any
    response moves routed → responded → quoted); empty when already there or beyond."""
    status = S(current)
    if status in CLOSED or status not in RANK or RANK[status] >= RANK[target]:
        return []
    return [s for s in RANK if RANK[status] < RANK[s] <= RANK[target]]
