"""Accreditations: a provider's evidence, staff's decision on it, and what the dates make of it.

Who may do what: a provider key submits and corrects evidence for its own stakeholder
only (pending); staff verify, suspend and revoke; facilitators read what a scheme would
publish (valid and expiring accreditations of active providers). Statuses that follow
from dates are computed on every read and filter (``lifecycle``), never stored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm, sweeps
from pentad.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from pentad.settings import Settings
from pentad.tables import sweep_marks
from services.administration import audit, events, lifecycle, schemes
from services.administration.lifecycle import AsOf
from services.administration.models import Accreditation, Scheme
from services.administration.schemas import (
    EVIDENCE_FIELDS,
    AccreditationIn,
    AccreditationOut,
    AccreditationPatch,
    AccreditationState,
    AccreditationStatus,
)

PUBLIC = frozenset({AccreditationStatus.valid, AccreditationStatus.expiring})


def status_of(accreditation: Accreditation, as_of: AsOf) -> AccreditationStatus:
    return lifecycle.accreditation_status(state=accreditation.state, expires_on=accreditation.expires_on,
                                          as_of=as_of)


def present(accreditation: Accreditation, *, as_of: AsOf, caller: Caller) -> AccreditationOut:
    # Evidence is for staff and the provider itself, not for what facilitators see.
    evidence = None if caller.role == Role.facilitator else accreditation.evidence_url
    return AccreditationOut(
        id=accreditation.id, stakeholder_id=accreditation.stakeholder_id, scheme_id=accreditation.scheme_id,
        certificate_no=accreditation.certificate_no, issued_on=accreditation.issued_on,
        expires_on=accreditation.expires_on, evidence_url=evidence, status=status_of(accreditation, as_of),
        reason=accreditation.reason, created_at=accreditation.created_at, updated_at=accreditation.updated_at)


# -- who may see and change what --------------------------------------------------------------------

def ensure_may_submit(caller: Caller, *, stakeholder_id: str) -> None:
    """Staff, or a provider key for its own stakeholder. Checked from the identity alone."""
    if caller.is_staff or (caller.role == Role.provider and caller.stakeholder_id == stakeholder_id):
        return
    raise Forbidden("A provider key submits accreditation evidence for its own stakeholder only.")


def ensure_own(caller: Caller, accreditation: Accreditation) -> None:
    if caller.is_staff or (caller.role == Role.provider and caller.stakeholder_id == accreditation.stakeholder_id):
        return
    raise Forbidden("Only DMO staff or this stakeholder's own provider key may do this.")


def ensure_visible(caller: Caller, accreditation: Accreditation, *, as_of: AsOf,
                   active_provider: bool = False) -> None:
    """Staff see all; a provider its own; a facilitator only what is public (else 404: its
    existence is not theirs to know)."""
    if caller.role != Role.facilitator:
        ensure_own(caller, accreditation)
    elif not (active_provider and status_of(accreditation, as_of) in PUBLIC):
        raise NotFound(f"No accreditation {accreditation.id!r}.")


def _ensure_may_change(caller: Caller, accreditation: Accreditation, changes: Collection[str]) -> None:
    if caller.is_staff:
        return
    if "status" in changes or "reason" in changes:
        raise Forbidden("Only DMO staff verify, suspend or revoke accreditations, a provider's own included.")
    if accreditation.state != AccreditationState.pending:
        raise Forbidden("Once decided, an accreditation is changed by DMO staff only; submit new evidence instead.")


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What a list may show: ``stakeholder_ids`` None means any; ``statuses`` None means all."""

    stakeholder_ids: frozenset[str] | None
    statuses: frozenset[AccreditationStatus] | None

    def among(self, stakeholder_ids: frozenset[str]) -> ReadScope:
        """Narrowed to these stakeholders too."""
        within = stakeholder_ids if self.stakeholder_ids is None else self.stakeholder_ids & stakeholder_ids
        return ReadScope(within, self.statuses)


def read_scope(caller: Caller, *, statuses: Collection[AccreditationStatus], stakeholder_id: str | None
               ) -> ReadScope:
    """Narrow a list to the caller's view. A facilitator's is narrowed further to active
    providers (``among``), which only Integration knows."""
    wanted = frozenset(statuses) or None
    asked = frozenset({stakeholder_id}) if stakeholder_id else None
    if caller.is_staff:
        return ReadScope(asked, wanted)
    if caller.role == Role.provider:
        if stakeholder_id not in (None, caller.stakeholder_id):
            raise Forbidden("A provider key reads its own stakeholder's accreditations only.")
        return ReadScope(frozenset({caller.stakeholder_id or ""}), wanted)
    if wanted is not None and not wanted <= PUBLIC:
        raise Forbidden("Facilitators read valid and expiring accreditations only.")
    return ReadScope(asked, wanted or PUBLIC)


# -- reads ------------------------------------------------------------------------------------------

def status_filter(statuses: Collection[AccreditationStatus], *, as_of: AsOf) -> sa.ColumnElement[bool]:
    """``lifecycle.accreditation_status`` in SQL: dates compared in the query, never a stored status."""
    verified = Accreditation.state == AccreditationState.valid.value
    by_status = {
        AccreditationStatus.expired: sa.and_(verified, Accreditation.expires_on < as_of.today),
        AccreditationStatus.expiring: sa.and_(verified, Accreditation.expires_on >= as_of.today,
                                              Accreditation.expires_on <= as_of.horizon),
        AccreditationStatus.valid: sa.and_(verified, Accreditation.expires_on > as_of.horizon),
    }
    return sa.or_(*(by_status.get(s, Accreditation.state == s.value) for s in statuses))


async def get_or_raise(session: AsyncSession, *, accreditation_id: str, for_update: bool = False) -> Accreditation:
    return await orm.get_or_raise(session, Accreditation, accreditation_id, noun="accreditation",
                                  for_update=for_update)


async def list_(session: AsyncSession, *, scope: ReadScope, paging: PageParams, as_of: AsOf,
                scheme_id: str | None = None) -> tuple[Sequence[Accreditation], str | None]:
    stmt = sa.select(Accreditation)
    if scope.stakeholder_ids is not None:
        stmt = stmt.where(Accreditation.stakeholder_id.in_(sorted(scope.stakeholder_ids)))
    if scope.statuses is not None:
        stmt = stmt.where(status_filter(scope.statuses, as_of=as_of))
    if scheme_id:
        stmt = stmt.where(Accreditation.scheme_id == scheme_id)
    return await paginate(session, stmt, Accreditation.id, paging)


# -- writes -----------------------------------------------------------------------------------------

def _duplicate(accreditation_in: AccreditationIn) -> Conflict:
    return Conflict("This certificate is already recorded for this stakeholder and scheme.", errors=[FieldError(
        field="certificate_no", message="already recorded", value=accreditation_in.certificate_no)])


async def create(session: AsyncSession, *, actor: Caller, accreditation_in: AccreditationIn,
                 as_of: AsOf) -> Accreditation:
    """Evidence submitted: ``pending`` until staff decide."""
    scheme = await schemes.get_or_invalid(session, scheme_id=accreditation_in.scheme_id)
    values = accreditation_in.model_dump(mode="json", exclude={"issued_on", "expires_on"})
    issued_on = accreditation_in.issued_on
    expires_on = accreditation_in.expires_on or lifecycle.add_years(issued_on, scheme.validity_years)
    accreditation = Accreditation(id=new_id("acc"), **values, issued_on=issued_on, expires_on=expires_on,
                                  state=AccreditationState.pending.value)
    session.add(accreditation)
    try:
        await session.flush()
    except IntegrityError:
        raise _duplicate(accreditation_in) from None
    audit.record(session, actor=actor, entity="accreditation", entity_id=accreditation.id, action="submitted",
                 before=None, after=audit.snapshot(accreditation))
    events.accreditation_submitted(session, accreditation, scheme, status=status_of(accreditation, as_of))
    return accreditation


def _check_dates(accreditation: Accreditation, changes: dict[str, Any]) -> None:
    issued_on = changes.get("issued_on", accreditation.issued_on)
    expires_on = changes.get("expires_on", accreditation.expires_on)
    if expires_on <= issued_on:
        field = "expires_on" if "expires_on" in changes else "issued_on"
        raise Invalid("An accreditation expires after it is issued.", errors=[FieldError(
            field=field, message=f"expires_on ({expires_on}) must be after issued_on ({issued_on})",
            value=changes[field].isoformat())])


def _decide(accreditation: Accreditation, target: str | None, reason: str | None) -> bool:
    """Apply a staff decision; False when there is none (no status, or the same one)."""
    if target is None or target == accreditation.state:
        return False
    lifecycle.check_accreditation_transition(state=accreditation.state, target=target)
    if target in lifecycle.NEEDS_REASON and not reason:
        raise Invalid(f"A {target} accreditation needs a reason.",
                      errors=[FieldError(field="reason", message=f"required when the status becomes {target}")])
    accreditation.state = target
    accreditation.reason = reason
    return True


def _apply(accreditation: Accreditation, changes: dict[str, Any]) -> bool:
    """Apply a PATCH's changes to the record; True when they include a staff decision."""
    target, reason = changes.get("status"), changes.get("reason")
    decided = _decide(accreditation, target.value if target else None, reason)
    if reason is not None and not decided:
        accreditation.reason = reason  # a note on the standing decision
    for field in EVIDENCE_FIELDS & changes.keys():
        value = changes[field]
        setattr(accreditation, field, str(value) if field == "evidence_url" else value)
    return decided


async def update(session: AsyncSession, *, actor: Caller, accreditation: Accreditation,
                 patch: AccreditationPatch, as_of: AsOf) -> Accreditation:
    changes = patch.model_dump(exclude_unset=True)
    _ensure_may_change(actor, accreditation, changes)
    _check_dates(accreditation, changes)
    before = audit.snapshot(accreditation)
    decided = _apply(accreditation, changes)
    # Readers know the stored decision as `status`.
    changed = sorted({"state": "status"}.get(k, k) for k, v in audit.snapshot(accreditation).items() if v != before[k])
    if not changed:
        return accreditation  # nothing to change: no new version, no entry, no event
    await session.flush()
    action = {"valid": "verified"}.get(accreditation.state, accreditation.state) if decided else "updated"
    audit.record(session, actor=actor, entity="accreditation", entity_id=accreditation.id, action=action,
                 before=before, after=audit.snapshot(accreditation))
    scheme = await schemes.get_or_raise(session, scheme_id=accreditation.scheme_id)
    publish = events.accreditation_decided if decided else events.accreditation_updated
    publish(session, accreditation, scheme, status=status_of(accreditation, as_of), changed=changed)
    return accreditation


# -- the sweep: date-driven events, once each --------------------------------------------------------

SWEEP_ACTOR = "sweep:accreditation-dates"


async def _unmarked(session: AsyncSession, event: str, *where: sa.ColumnElement[bool]) -> Sequence[Accreditation]:
    marked = sa.exists().where(sweep_marks.c.subject == Accreditation.id, sweep_marks.c.event == event,
                               sweep_marks.c.on_date == Accreditation.expires_on)
    return (await session.scalars(sa.select(Accreditation).where(
        Accreditation.state == AccreditationState.valid.value, *where, ~marked).order_by(Accreditation.id))).all()


async def sweep_dates(session: AsyncSession, settings: Settings) -> int:
    """Publish ``accreditation.expiring`` and ``accreditation.expired`` once per accreditation
    and ``expires_on`` (a renewal's new date gets its own), and audit each."""
    as_of = AsOf(now=lifecycle.now(), expiring_days=settings.accreditation_expiring_days)
    due = [(AccreditationStatus.expired, a) for a in await _unmarked(
        session, "accreditation.expired", Accreditation.expires_on < as_of.today)]
    due += [(AccreditationStatus.expiring, a) for a in await _unmarked(
        session, "accreditation.expiring", Accreditation.expires_on >= as_of.today,
        Accreditation.expires_on <= as_of.horizon)]
    done = 0
    for status, accreditation in due:
        if await sweeps.first_time(session, subject=accreditation.id, event=f"accreditation.{status}",
                                   on=accreditation.expires_on):
            await _publish_dated(session, accreditation, status, as_of)
            done += 1
    return done


async def _publish_dated(session: AsyncSession, accreditation: Accreditation, status: AccreditationStatus,
                         as_of: AsOf) -> None:
    yesterday = AsOf(now=as_of.now - timedelta(days=1), expiring_days=as_of.expiring_days)
    audit.record(session, actor=SWEEP_ACTOR, entity="accreditation", entity_id=accreditation.id,
                 action=status.value, before={"status": status_of(accreditation, yesterday).value},
                 after={"status": status.value, "expires_on": accreditation.expires_on.isoformat()})
    scheme = await session.get(Scheme, accreditation.scheme_id)
    assert scheme is not None  # a foreign key keeps it
    events.accreditation_dated(session, accreditation, scheme, status=status.value)
