"""Staff decide a provider's proposal to change its specialties or kind.

A provider's own key may not change what counts for the destination (which specialties it
is listed and counted under, which capacity it may post, which package parts it may
deliver): its change waits on the record (``stakeholders.update``) until staff approve it,
which applies it like a staff change, or reject it with a reason the provider can read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pentad.errors import Conflict
from pentad.identity import Caller
from services.integration import events, stakeholders
from services.integration.models import Stakeholder
from services.integration.schemas import ProposalOutcome


async def approve(session: AsyncSession, *, caller: Caller, stakeholder: Stakeholder, reason: str | None,
                  now: datetime | None = None) -> Stakeholder:
    """Apply the pending proposal; packages that depended on a dropped specialty (or on the
    old kind) are withdrawn by ``apply`` as for any staff change."""
    specialties, kind = _take(stakeholder, caller=caller, outcome=ProposalOutcome.approved, reason=reason, now=now)
    changes: dict[str, Any] = {}
    if specialties is not None:
        changes["specialties"] = specialties
    if kind is not None:
        changes["kind"] = kind
    # One flush writes the decision and the change together (one version step); the event
    # follows ``stakeholder.updated`` and the package events so that it carries that version.
    await stakeholders.apply(session, stakeholder=stakeholder, changes=changes)
    events.proposal_decided(session, stakeholder, outcome="approved", specialties=specialties, kind=kind)
    return stakeholder


async def reject(session: AsyncSession, *, caller: Caller, stakeholder: Stakeholder, reason: str,
                 now: datetime | None = None) -> Stakeholder:
    specialties, kind = _take(stakeholder, caller=caller, outcome=ProposalOutcome.rejected, reason=reason, now=now)
    await session.flush()
    events.proposal_decided(session, stakeholder, outcome="rejected", specialties=specialties, kind=kind)
    return stakeholder


def _take(stakeholder: Stakeholder, *, caller: Caller, outcome: ProposalOutcome, reason: str | None,
          now: datetime | None) -> tuple[list[str] | None, str | None]:
    """The pending proposal, cleared and recorded as decided; 409 when there is none."""
    if stakeholder.proposed_at is None:
        raise Conflict(f"Stakeholder {stakeholder.id!r} has no pending proposal.")
    specialties, kind = stakeholder.proposed_specialties, stakeholder.proposed_kind
    stakeholder.proposal_decision = {
        "outcome": outcome.value, "reason": reason, "specialties": specialties, "kind": kind,
        "decided_by": caller.key_id, "decided_at": (now or datetime.now(UTC)).isoformat()}
    stakeholders.clear_proposal(stakeholder)
    return specialties, kind
