"""Routing an enquiry to providers that can take it now.

Who can take it is one question, ``eligible_providers``: active providers offering the
specialty (their approved specialties), speaking one of the patient's languages, validly
accredited (valid or expiring) and with fresh capacity for the specialty in the preferred
window. It is computed here from Integration and Administration through their typed
clients; the coordinator's offer (``/dmo``) will answer it instead, behind the same signature.

The rest decides what to do with the answer: route a new enquiry to up to N of them (each
with a response deadline), leave it ``new`` with the reason when there are none, withdraw a
provider that can no longer take what it was routed and put another in its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pentad.client import UpstreamError
from services.administration.client import AdministrationClient
from services.integration.client import IntegrationClient
from services.integration.schemas import PROVIDER_KINDS
from services.promotion import enquiry_events as events
from services.promotion import funnel
from services.promotion.enquiry_schemas import AssignmentStatus
from services.promotion.enquiry_schemas import EnquiryStatus as S
from services.promotion.models import Assignment, Enquiry

log = structlog.get_logger("promotion.routing")

_PROVIDER_KINDS = frozenset(k.value for k in PROVIDER_KINDS)
ACCREDITED = ("valid", "expiring")
ROUTER = "service:promotion"  # the actor of steps routing takes on its own
# Assignments a provider still holds: answered or not, the enquiry is in its hands.
HELD = (AssignmentStatus.pending.value, AssignmentStatus.responded.value)


@dataclass(frozen=True, slots=True)
class Pillars:
    integration: IntegrationClient
    administration: AdministrationClient


@dataclass(frozen=True, slots=True)
class Need:
    """What an enquiry asks of a provider."""

    specialty: str
    languages: tuple[str, ...]
    from_: date
    to: date

    @classmethod
    def of(cls, enquiry: Enquiry) -> Need:
        return cls(enquiry.specialty, tuple(enquiry.languages), enquiry.preferred_from, enquiry.preferred_to)


@dataclass(frozen=True, slots=True)
class Eligible:
    """Providers that can take the enquiry now, best first (most fresh slots), or why none can."""

    stakeholder_ids: list[str]
    reason: str | None = None


async def eligible_providers(pillars: Pillars, need: Need, *, today: date) -> Eligible:
    """THE question the coordinator's offer will answer: who can take this enquiry now."""
    offering = [s for s in await pillars.integration.stakeholders()
                if s.kind in _PROVIDER_KINDS and need.specialty in s.specialties]
    if not offering:
        return Eligible([], f"no active provider offers {need.specialty}")
    speaking = [s for s in offering if set(need.languages) & set(s.languages)]
    if not speaking:
        return Eligible([], f"no provider of {need.specialty} speaks {', '.join(need.languages)}")
    accredited = {a.stakeholder_id for a in await pillars.administration.accreditations(status=ACCREDITED)}
    candidates = [s.id for s in speaking if s.id in accredited]
    if not candidates:
        return Eligible([], f"no provider of {need.specialty} speaking the patient's languages is validly accredited")
    slots = await _fresh_slots(pillars, need, today=today)
    ranked = sorted((sid for sid in candidates if slots.get(sid, 0) > 0), key=lambda sid: (-slots[sid], sid))
    if not ranked:
        return Eligible([], f"no accredited provider has fresh {need.specialty} capacity between "
                            f"{need.from_.isoformat()} and {need.to.isoformat()}")
    return Eligible(ranked)


async def _fresh_slots(pillars: Pillars, need: Need, *, today: date) -> dict[str, int]:
    start = max(need.from_, today)  # capacity already past is no use to a patient
    if start > need.to:
        return {}
    slots: dict[str, int] = {}
    for week in await pillars.integration.weekly_capacity([need.specialty], from_=start, to=need.to):
        if week.specialty == need.specialty:
            slots[week.stakeholder_id] = slots.get(week.stakeholder_id, 0) + week.fresh_slots
    return slots


# -- acting on the answer --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Policy:
    route_to: int  # N providers at most
    response_hours: int
    now: datetime

    @property
    def respond_by(self) -> datetime:
        return self.now + timedelta(hours=self.response_hours)


@dataclass
class Asker:
    """``eligible_providers`` once per distinct need within one pass (a retry over many
    enquiries asks the pillars once per specialty, language set and window)."""

    pillars: Pillars
    today: date
    _known: dict[Need, Eligible] = field(default_factory=dict)

    async def __call__(self, need: Need) -> Eligible:
        if need not in self._known:
            self._known[need] = await eligible_providers(self.pillars, need, today=self.today)
        return self._known[need]


async def route(session: AsyncSession, *, enquiry: Enquiry, ask: Asker, policy: Policy) -> bool:
    """Route a ``new`` enquiry to up to N eligible providers; True if it was routed. When none
    can take it, or a pillar cannot say, it stays ``new`` with the reason."""
    try:
        eligible = await ask(Need.of(enquiry))
    except UpstreamError as exc:
        log.warning("enquiry.routing_deferred", enquiry_id=enquiry.id, reason=exc.detail)
        enquiry.status_reason = "not routed yet: the providers' accreditations or capacity could not be read"
        return False
    before = await _assigned(session, enquiry.id)
    chosen = [sid for sid in eligible.stakeholder_ids if sid not in before][: policy.route_to]
    if not chosen:
        enquiry.status_reason = f"not routed: {eligible.reason or 'no other provider can take it'}"
        return False
    _assign(session, enquiry, chosen, policy)
    session.add(funnel.move(enquiry, S.routed, actor=ROUTER, at=policy.now))
    await session.flush()
    events.enquiry_routed(session, enquiry, chosen)
    await events.enquiry_status_changed(session, enquiry, from_=S.new.value)
    return True


def _assign(session: AsyncSession, enquiry: Enquiry, stakeholder_ids: Sequence[str], policy: Policy) -> None:
    for sid in stakeholder_ids:
        session.add(Assignment(enquiry_id=enquiry.id, stakeholder_id=sid, routed_at=policy.now,
                               respond_by=policy.respond_by, status=AssignmentStatus.pending.value))


async def _assigned(session: AsyncSession, enquiry_id: str) -> dict[str, Assignment]:
    """Every provider ever assigned this enquiry (whatever became of it: none is asked twice)."""
    rows = await session.scalars(sa.select(Assignment).where(Assignment.enquiry_id == enquiry_id))
    return {a.stakeholder_id: a for a in rows}


async def replace(session: AsyncSession, *, enquiry: Enquiry, ask: Asker, policy: Policy) -> list[str]:
    """Fill the places of providers that declined or were withdrawn, up to N held assignments;
    an enquiry left with none goes back to ``new`` (to be routed again when the offer changes)."""
    if enquiry.status not in funnel.WORKABLE:
        return []
    assigned = await _assigned(session, enquiry.id)
    held = [a for a in assigned.values() if a.status in HELD]
    try:
        eligible = await ask(Need.of(enquiry))
    except UpstreamError:
        return []
    chosen = [sid for sid in eligible.stakeholder_ids if sid not in assigned][: policy.route_to - len(held)]
    _assign(session, enquiry, chosen, policy)
    if chosen:
        await session.flush()
        events.enquiry_routed(session, enquiry, chosen)
    elif not held and enquiry.status == S.routed:
        reason = f"not routed: {eligible.reason or 'no provider it was routed to can take it any more'}"
        session.add(funnel.move(enquiry, S.new, actor=ROUTER, at=policy.now, reason=reason))
        await session.flush()
        await events.enquiry_status_changed(session, enquiry, from_=S.routed.value)
    return chosen


async def retry(session: AsyncSession, *, ask: Asker, policy: Policy, stakeholder_id: str | None,
                limit: int = 500) -> tuple[int, int]:
    """Withdraw ``stakeholder_id`` where it can no longer take what it holds (replacing it),
    then route the ``new`` enquiries whose window is not over; (routed, withdrawn)."""
    withdrawn = await _withdraw(session, stakeholder_id, ask=ask, policy=policy) if stakeholder_id else 0
    waiting = await session.scalars(
        sa.select(Enquiry).where(Enquiry.status == S.new.value, Enquiry.preferred_to >= ask.today)
        .order_by(Enquiry.id).limit(limit).with_for_update())
    routed = 0
    for enquiry in waiting.all():
        routed += await route(session, enquiry=enquiry, ask=ask, policy=policy)
    return routed, withdrawn


async def _withdraw(session: AsyncSession, stakeholder_id: str, *, ask: Asker, policy: Policy) -> int:
    held = (await session.execute(
        sa.select(Assignment, Enquiry).join(Enquiry, Enquiry.id == Assignment.enquiry_id)
        .where(Assignment.stakeholder_id == stakeholder_id, Assignment.status.in_(HELD),
               Enquiry.status.in_([s.value for s in funnel.WORKABLE]))
        .order_by(Assignment.enquiry_id).with_for_update())).all()
    withdrawn = 0
    for assignment, enquiry in held:
        if stakeholder_id in (await ask(Need.of(enquiry))).stakeholder_ids:
            continue  # it still can: nothing changes
        assignment.status = AssignmentStatus.withdrawn.value
        assignment.reason = "the provider can no longer take it (accreditation, capacity or listing changed)"
        withdrawn += 1
        await session.flush()
        await replace(session, enquiry=enquiry, ask=ask, policy=policy)
    return withdrawn
