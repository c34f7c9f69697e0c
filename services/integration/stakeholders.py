"""The stakeholder register: who is in it, who may see and change what."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Forbidden, NotFound, unknown_codes
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from services.integration import events, packages
from services.integration.models import Stakeholder, StakeholderSpecialty
from services.integration.schemas import (
    PROVIDER_EDITABLE,
    PROVIDER_PROPOSABLE,
    ProposalState,
    StakeholderIn,
    StakeholderOut,
    StakeholderPatch,
    StakeholderStatus,
)


def check_specialties(codes: list[str], known: Collection[str], field: str = "specialties",
                      indexed: bool = True) -> None:
    unknown_codes(codes, known, field=field, message="unknown specialty code (see GET /segmentation/specialties)",
                  indexed=indexed)


# -- who may see and change what ------------------------------------------------------------------

def ensure_visible(caller: Caller, stakeholder: Stakeholder) -> None:
    """Staff see all; a provider only itself; a facilitator the active register."""
    if caller.is_staff:
        return
    if caller.role == Role.provider and caller.stakeholder_id != stakeholder.id:
        raise Forbidden("A provider key may only read its own stakeholder's data.")
    if caller.role == Role.facilitator and stakeholder.status != StakeholderStatus.active.value:
        raise NotFound(f"No stakeholder {stakeholder.id!r}.")


def ensure_own(caller: Caller, stakeholder_id: str) -> None:
    """Writes and private reads (capacity): staff, or the provider the key is bound to."""
    if caller.is_staff or (caller.role == Role.provider and caller.stakeholder_id == stakeholder_id):
        return
    raise Forbidden("Only DMO staff or this stakeholder's own provider key may do this.")


_PROPOSAL_FIELDS = ("proposed_specialties", "proposed_kind", "proposed_by", "proposed_at", "proposal_decision")


def present(caller: Caller, stakeholder: Stakeholder) -> StakeholderOut:
    """The record as this caller may read it: proposals are between a provider and the DMO."""
    out = StakeholderOut.model_validate(stakeholder)
    if caller.role == Role.facilitator:
        out = out.model_copy(update=dict.fromkeys(_PROPOSAL_FIELDS))
    return out


# -- the register -------------------------------------------------------------------------------

async def create(session: AsyncSession, *, stakeholder_in: StakeholderIn, known_specialties: Collection[str]
                 ) -> Stakeholder:
    check_specialties(stakeholder_in.specialties, known_specialties)
    values = stakeholder_in.model_dump(mode="json")
    stakeholder = Stakeholder(id=new_id("stk"), **values,
                              offered=[StakeholderSpecialty(specialty=s) for s in values["specialties"]])
    session.add(stakeholder)
    await session.flush()
    events.stakeholder_registered(session, stakeholder)
    return stakeholder


async def get_or_raise(session: AsyncSession, *, stakeholder_id: str, for_update: bool = False) -> Stakeholder:
    return await orm.get_or_raise(session, Stakeholder, stakeholder_id, noun="stakeholder", for_update=for_update)


async def list_(session: AsyncSession, *, caller: Caller, paging: PageParams, kind: str | None = None,
                country: str | None = None, city: str | None = None, specialty: str | None = None,
                status: str | None = None, proposal: ProposalState | None = None
                ) -> tuple[Sequence[Stakeholder], str | None]:
    """Filters read the approved record only: a pending proposal lists nothing under its values."""
    stmt = sa.select(Stakeholder)
    if caller.role == Role.provider:
        stmt = stmt.where(Stakeholder.id == caller.stakeholder_id)
    elif caller.role == Role.facilitator:
        if proposal is not None:
            raise Forbidden("Proposals are between a provider and DMO staff.")
        status = StakeholderStatus.active.value
    if proposal is not None:
        pending = Stakeholder.proposed_at.is_not(None)
        stmt = stmt.where(pending if proposal == ProposalState.pending else ~pending)
    for column, value in ((Stakeholder.kind, kind), (Stakeholder.country, country), (Stakeholder.city, city),
                          (Stakeholder.status, status)):
        if value:
            stmt = stmt.where(column == value)
    if specialty:
        stmt = stmt.where(Stakeholder.id.in_(sa.select(StakeholderSpecialty.stakeholder_id).where(
            StakeholderSpecialty.specialty == specialty)))
    return await paginate(session, stmt, Stakeholder.id, paging)


async def update(session: AsyncSession, *, caller: Caller, stakeholder: Stakeholder, patch: StakeholderPatch,
                 known_specialties: Collection[str], now: datetime | None = None) -> Stakeholder:
    """Staff change anything at once. A provider changes its own name, city and languages at
    once, while its specialties and kind only become a proposal (see ``proposals.py``)."""
    changes = patch.model_dump(mode="json", exclude_unset=True)
    ensure_own(caller, stakeholder.id)
    if "specialties" in changes:
        check_specialties(changes["specialties"], known_specialties)
    proposal_event = None
    if not caller.is_staff:
        if forbidden := sorted(changes.keys() - PROVIDER_EDITABLE - PROVIDER_PROPOSABLE):
            raise Forbidden(f"Only DMO staff may change: {', '.join(forbidden)}.")
        if proposed := {f: changes.pop(f) for f in PROVIDER_PROPOSABLE & changes.keys()}:
            proposal_event = _propose(stakeholder, caller=caller, proposed=proposed, now=now or datetime.now(UTC))
    await apply(session, stakeholder=stakeholder, changes=changes)
    if proposal_event:
        proposal_event(session, stakeholder)
    return stakeholder


async def apply(session: AsyncSession, *, stakeholder: Stakeholder, changes: dict[str, Any]) -> Stakeholder:
    """Change the approved record (and write whatever else changed on it: one version step);
    packages follow a change of status, kind or specialties."""
    if "specialties" in changes:
        stakeholder.offered = [StakeholderSpecialty(specialty=s) for s in changes["specialties"]]
    delivery_changed = any(changes.get(f, getattr(stakeholder, f)) != getattr(stakeholder, f)
                           for f in ("status", "kind", "specialties"))
    for field, value in changes.items():
        setattr(stakeholder, field, value)
    await session.flush()
    if changes:
        events.stakeholder_updated(session, stakeholder, sorted(changes))
    if delivery_changed:
        await packages.follow_stakeholder(session, stakeholder=stakeholder)
    return stakeholder


def _propose(stakeholder: Stakeholder, *, caller: Caller, proposed: dict[str, Any], now: datetime
             ) -> Callable[[AsyncSession, Stakeholder], None] | None:
    """Set the pending proposal; the event to record once written, if any.

    Values equal to the approved ones are no proposal: a provider system that re-sends its
    whole record proposes nothing, and sending the approved values withdraws a pending one.
    The same proposal again (a retry) changes nothing; another replaces the pending one."""
    specialties, kind = proposed.get("specialties"), proposed.get("kind")
    if specialties is not None and set(specialties) == set(stakeholder.specialties):
        specialties = None
    if kind == stakeholder.kind:
        kind = None
    if _same(specialties, kind, stakeholder.proposed_specialties, stakeholder.proposed_kind):
        return None
    if specialties is None and kind is None:
        clear_proposal(stakeholder)
        return events.proposal_withdrawn
    stakeholder.proposed_specialties, stakeholder.proposed_kind = specialties, kind
    stakeholder.proposed_by, stakeholder.proposed_at = caller.key_id, now
    return events.proposal_submitted


def _same(specialties: list[str] | None, kind: str | None, pending_specialties: list[str] | None,
          pending_kind: str | None) -> bool:
    """Whether a proposal is the pending one (nothing and nothing pending are the same too)."""
    def key(codes: list[str] | None, k: str | None) -> tuple[frozenset[str] | None, str | None]:
        return (None if codes is None else frozenset(codes)), k

    return key(specialties, kind) == key(pending_specialties, pending_kind)


def clear_proposal(stakeholder: Stakeholder) -> None:
    stakeholder.proposed_specialties = stakeholder.proposed_kind = None
    stakeholder.proposed_by = stakeholder.proposed_at = None
