"""Accreditation schemes: what a certificate is for, who issues it and for how long."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pentad import orm
from pentad.errors import Conflict, FieldError, Invalid
from pentad.identity import Caller
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from services.administration import audit
from services.administration.models import Scheme
from services.administration.schemas import SchemeIn


async def create(session: AsyncSession, *, actor: Caller, scheme_in: SchemeIn) -> Scheme:
    taken = Conflict(f"A scheme with code {scheme_in.code!r} already exists.",
                     errors=[FieldError(field="code", message="already taken", value=scheme_in.code)])
    if await session.scalar(sa.select(Scheme.id).where(Scheme.code == scheme_in.code)) is not None:
        raise taken
    scheme = Scheme(id=new_id("sch"), **scheme_in.model_dump())
    session.add(scheme)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request took the code first
        raise taken from None
    audit.record(session, actor=actor, entity="scheme", entity_id=scheme.id, action="created", before=None,
                 after=audit.snapshot(scheme))
    return scheme


async def get_or_raise(session: AsyncSession, *, scheme_id: str) -> Scheme:
    return await orm.get_or_raise(session, Scheme, scheme_id, noun="scheme")


async def get_or_invalid(session: AsyncSession, *, scheme_id: str, field: str = "scheme_id") -> Scheme:
    """The scheme an input names; an unknown one is bad input (422 naming the field), not a 404."""
    scheme = await session.get(Scheme, scheme_id)
    if scheme is None:
        raise Invalid("Unknown scheme.", errors=[FieldError(field=field, message="unknown scheme (see GET /schemes)",
                                                            value=scheme_id)])
    return scheme


async def list_(session: AsyncSession, *, paging: PageParams, code: str | None = None
                ) -> tuple[Sequence[Scheme], str | None]:
    stmt = sa.select(Scheme)
    if code:
        stmt = stmt.where(Scheme.code == code)
    return await paginate(session, stmt, Scheme.id, paging)
