"""API keys: create, list, revoke, and resolve a presented key to its caller."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ApiKey
from gateway.schemas import KeyIn
from pentad.errors import FieldError, Invalid, NotFound
from pentad.identity import Caller, Role
from pentad.ids import new_id
from pentad.pagination import PageParams, paginate
from pentad.settings import write_private_file
from services.integration.client import StakeholderRef

KEY_PREFIX = "pk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create(session: AsyncSession, *, key_in: KeyIn, key: str | None = None) -> tuple[ApiKey, str]:
    key = key or new_key()
    record = ApiKey(id=new_id("key"), name=key_in.name, role=key_in.role.value,
                    stakeholder_id=key_in.stakeholder_id, key_hash=hash_key(key),
                    prefix=key[: len(KEY_PREFIX) + 6], created_at=datetime.now(UTC))
    session.add(record)
    await session.flush()
    return record, key


# Which register kinds a bound key may stand for: provider systems are those of providers
# and of supporting businesses (hotels, transfers); facilitator keys, agents and insurers.
_FACILITATOR_KINDS = frozenset({"facilitator", "insurer"})


def check_binding(key_in: KeyIn, stakeholder: StakeholderRef | None) -> None:
    field = "stakeholder_id"
    if stakeholder is None:
        raise Invalid("The key must be bound to a registered stakeholder.", errors=[FieldError(
            field=field, value=key_in.stakeholder_id, message="no such stakeholder in /integration/stakeholders")])
    wants_facilitator = key_in.role == Role.facilitator
    if wants_facilitator != (stakeholder.kind in _FACILITATOR_KINDS):
        raise Invalid(f"A {key_in.role.value} key cannot stand for a {stakeholder.kind}.", errors=[FieldError(
            field=field, value=key_in.stakeholder_id,
            message=f"{stakeholder.name} is a {stakeholder.kind}; facilitator keys are for facilitators and "
                    "insurers, provider keys for everyone else")])


async def list_(session: AsyncSession, *, paging: PageParams) -> tuple[Sequence[ApiKey], str | None]:
    return await paginate(session, sa.select(ApiKey).where(ApiKey.revoked_at.is_(None)),
                          ApiKey.id, paging)


async def revoke(session: AsyncSession, *, key_id: str) -> ApiKey:
    record = await session.get(ApiKey, key_id)
    if record is None or record.revoked_at is not None:
        raise NotFound(f"No active key {key_id!r}.")
    record.revoked_at = datetime.now(UTC)
    await session.flush()
    return record


async def resolve(session: AsyncSession, *, key_hash: str) -> Caller | None:
    record = (await session.scalars(sa.select(ApiKey).where(
        ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))).first()
    if record is None:
        return None
    return Caller(key_id=record.id, role=Role(record.role), stakeholder_id=record.stakeholder_id)


async def ensure_bootstrap_admin(session: AsyncSession, *, key_file: Path,
                                 given_key: str | None = None) -> bool:
    """First start: make an admin key (or adopt ``given_key``) and write it to ``key_file``.

    Returns whether a key was created. With ``given_key`` (e.g. from a Kubernetes secret)
    nothing is written to disk.
    """
    if given_key:
        # Known already, even if since revoked: a revoked bootstrap key must stay revoked.
        if await session.scalar(sa.select(ApiKey.id).where(ApiKey.key_hash == hash_key(given_key))):
            return False
        await create(session, key_in=KeyIn(name="bootstrap admin", role=Role.admin, stakeholder_id=None), key=given_key)
        return True
    if (await session.scalar(sa.select(sa.func.count()).select_from(ApiKey))) or 0:
        return False
    _, key = await create(session, key_in=KeyIn(name="bootstrap admin", role=Role.admin, stakeholder_id=None))
    await asyncio.to_thread(write_private_file, key_file, key)
    return True
