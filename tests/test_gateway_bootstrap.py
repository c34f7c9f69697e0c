"""First start of the gateway: the bootstrap admin key, written or adopted, never re-made."""

from __future__ import annotations

import stat
from pathlib import Path

from gateway import keys
from pentad.db import Database


async def test_first_start_writes_one_admin_key_readable_by_the_owner_only(databases, tmp: Path) -> None:
    db = Database.connect(await databases.new("gateway"))
    key_file = tmp / "admin.key"
    try:
        async with db.sessionmaker() as session:
            assert await keys.ensure_bootstrap_admin(session, key_file=key_file)
            await session.commit()
        async with db.sessionmaker() as session:
            assert not await keys.ensure_bootstrap_admin(session, key_file=key_file)
            caller = await keys.resolve(session, key_hash=keys.hash_key(key_file.read_text().strip()))
        assert caller is not None and caller.role == "admin"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        await db.dispose()


async def test_a_given_key_is_adopted_once_and_stays_revoked(databases, tmp: Path) -> None:
    db = Database.connect(await databases.new("gateway"))
    given = keys.new_key()
    try:
        async with db.sessionmaker() as session:
            assert await keys.ensure_bootstrap_admin(session, key_file=tmp / "unused", given_key=given)
            await session.commit()
        assert not (tmp / "unused").exists()
        async with db.sessionmaker() as session:
            caller = await keys.resolve(session, key_hash=keys.hash_key(given))
            assert caller is not None
            await keys.revoke(session, key_id=caller.key_id)
            await session.commit()
        async with db.sessionmaker() as session:  # the next start, the key still in the Secret
            assert not await keys.ensure_bootstrap_admin(session, key_file=tmp / "unused", given_key=given)
            await session.commit()
            assert await keys.resolve(session, key_hash=keys.hash_key(given)) is None
    finally:
        await db.dispose()
