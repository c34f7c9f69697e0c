"""The stakeholder register: who is in it, who may see and change what."""

from __future__ import annotations

from collections.abc import Collection, Sequence

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
    StakeholderIn,
    StakeholderPatch,
    StakeholderStatus,
)


def check_specialties(codes: list[str], known: Collection[str], field: str = "specialties") -> None:
    unknown_codes(codes, known, field=field, message="unknown specialty code (see GET /segmentation/specialties)")


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
                status: str | None = None) -> tuple[Sequence[Stakeholder], str | None]:
    stmt = sa.select(Stakeholder)
    if caller.role == Role.provider:
        stmt = stmt.where(Stakeholder.id == caller.stakeholder_id)
    elif caller.role == Role.facilitator:
        status = StakeholderStatus.active.value
    for column, value in ((Stakeholder.kind, kind), (Stakeholder.country, country), (Stakeholder.city, city),
                          (Stakeholder.status, status)):
        if value:
            stmt = stmt.where(column == value)
    if specialty:
        stmt = stmt.where(Stakeholder.id.in_(sa.select(StakeholderSpecialty.stakeholder_id).where(
            StakeholderSpecialty.specialty == specialty)))
    return await paginate(session, stmt, Stakeholder.id, paging)


async def update(session: AsyncSession, *, caller: Caller, stakeholder: Stakeholder, patch: StakeholderPatch,
                 known_specialties: Collection[str]) -> Stakeholder:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    ensure_own(caller, stakeholder.id)
    if not caller.is_staff and (forbidden := sorted(changes.keys() - PROVIDER_EDITABLE)):
        raise Forbidden(f"Only DMO staff may change: {', '.join(forbidden)}.")
    if "specialties" in changes:
        check_specialties(changes["specialties"], known_specialties)
        stakeholder.offered = [StakeholderSpecialty(specialty=s) for s in changes["specialties"]]
    delivery_changed = any(changes.get(f, getattr(stakeholder, f)) != getattr(stakeholder, f)
                           for f in ("status", "kind", "specialties"))
    for field, value in changes.items():
        setattr(stakeholder, field, value)
    await session.flush()
    events.stakeholder_updated(session, stakeholder, sorted(changes))
    if delivery_changed:
        await packages.follow_stakeholder(session, stakeholder=stakeholder)
    return stakeholder
