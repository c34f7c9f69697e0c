"""The ``pentad`` command: ``up``, ``migrate``, ``keys create|list|revoke``, ``--version``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from launcher.preflight import (
    check_database_url,
    migrate_components,
    prepare_data_dir,
    private_umask,
    uses_data_dir,
)
from pentad.components import COMPONENT_NAMES
from pentad.identity import Role
from pentad.logging import configure_logging
from pentad.settings import Settings, SetupError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pentad", description="Pentad: health-tourism DMO platform")
    p.add_argument("--version", action="version", version=f"pentad {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the gateway and every service, each in its own process")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000, help="the gateway's; services take the next six")
    up.add_argument("--data-dir", type=Path, default=Path("./var"))
    up.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True,
                    help="load the demo destination (default: on)")

    mig = sub.add_parser("migrate", help="bring databases to the latest schema")
    mig.add_argument("--data-dir", type=Path, default=Path("./var"))
    mig.add_argument("--component", choices=COMPONENT_NAMES,
                     help="only this one (default: all); its URL is PENTAD_DATABASE_URL")

    keys = sub.add_parser("keys", help="manage API keys directly in the gateway's database")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--stakeholder-id")
    create.add_argument("--name", required=True)
    create.add_argument("--data-dir", type=Path, default=Path("./var"))
    listing = keys_sub.add_parser("list", help="the active keys (never the keys themselves: only their prefix)")
    listing.add_argument("--data-dir", type=Path, default=Path("./var"))
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id (a running gateway stops taking it "
                                                "within PENTAD_KEY_CACHE_SECONDS)")
    revoke.add_argument("key_id")
    revoke.add_argument("--data-dir", type=Path, default=Path("./var"))
    return p


def _version() -> str:
    try:
        return version("pentad")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # `up` shares stdout with the processes it starts; the other commands print results there.
    configure_logging(service="pentad", fmt="auto", stream=sys.stdout if args.command == "up" else sys.stderr)
    private_umask()
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C before `up` has its own handler (during migrations, say)
        return 130
    except SetupError as exc:
        return _fail(args.command, str(exc))
    except ValidationError as exc:  # a PENTAD_* variable that is not what it should be
        error = exc.errors()[0]
        return _fail(args.command, f"PENTAD_{str(error['loc'][0]).upper()}: {error['msg']}")
    except Exception as exc:  # any other start-up failure: one line, the traceback on demand
        if os.environ.get("PENTAD_LOG_LEVEL", "").lower() == "debug":
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        return _fail(args.command, f"{type(exc).__name__}: {first} (PENTAD_LOG_LEVEL=debug shows the traceback)")


def _fail(command: str, message: str) -> int:
    print(f"pentad {command}: {message}", file=sys.stderr)
    return 2


def _warn(command: str, warning: str | None) -> None:
    if warning:
        print(f"pentad {command}: {warning}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        from launcher.supervisor import Supervisor

        check_database_url(Settings().database_url, shared=True)
        _warn("up", prepare_data_dir(args.data_dir))
        return asyncio.run(Supervisor(host=args.host, port=args.port, data_dir=args.data_dir,
                                      demo=args.demo).run())
    if args.command == "migrate":
        components = [args.component] if args.component else list(COMPONENT_NAMES)
        check_database_url(Settings().database_url, shared=len(components) > 1)
        if uses_data_dir():
            _warn("migrate", prepare_data_dir(args.data_dir))
        migrate_components(components, args.data_dir, done=lambda c: print(f"{c}: at head"))
        return 0
    commands = {"create": _create_key, "list": _list_keys, "revoke": _revoke_key}
    return asyncio.run(commands[args.keys_command](args))


@asynccontextmanager
async def _gateway_session(data_dir: Path) -> AsyncIterator[Any]:
    """A session on the gateway's database (migrated first), committed when the block ends well."""
    from pentad.db import Database

    check_database_url(Settings().database_url, shared=False)
    if uses_data_dir():
        _warn("keys", prepare_data_dir(data_dir))
    settings = Settings(service="gateway", data_dir=data_dir)
    await asyncio.to_thread(migrate_components, ["gateway"], data_dir)
    db = Database.connect(settings.resolved_database_url(), schema=settings.database_schema)
    try:
        async with db.sessionmaker() as session:
            yield session
            await session.commit()
    finally:
        await db.dispose()


async def _create_key(args: argparse.Namespace) -> int:
    from gateway import keys
    from gateway.schemas import KeyIn

    try:
        key_in = KeyIn(name=args.name, role=Role(args.role), stakeholder_id=args.stakeholder_id)
    except ValidationError as exc:
        print(f"pentad keys: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    async with _gateway_session(args.data_dir) as session:
        record, key = await keys.create(session, key_in=key_in)
    print(f"{key}\n(id {record.id}, role {record.role}; shown once, keep it safe)")
    return 0


async def _list_keys(args: argparse.Namespace) -> int:
    from gateway import keys
    from pentad.pagination import PageParams

    rows = []
    async with _gateway_session(args.data_dir) as session:
        cursor: str | None = None
        while True:
            page, cursor = await keys.list_(session, paging=PageParams(limit=500, cursor=cursor))
            rows += [(r.id, r.role, r.stakeholder_id or "-", r.prefix + "…", r.created_at.strftime("%Y-%m-%d %H:%M"),
                      r.name) for r in page]
            if cursor is None:
                break
    header = ("ID", "ROLE", "STAKEHOLDER", "PREFIX", "CREATED (UTC)", "NAME")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join([*(str(v).ljust(w) for v, w in zip(row, widths, strict=False)), str(row[-1])]))
    return 0


async def _revoke_key(args: argparse.Namespace) -> int:
    from gateway import keys
    from pentad.errors import NotFound

    try:
        async with _gateway_session(args.data_dir) as session:
            record = await keys.revoke(session, key_id=args.key_id)
    except NotFound:
        return _fail("keys revoke", f"no active key {args.key_id!r} (`pentad keys list` shows them)")
    print(f"revoked {record.id} ({record.role}, {record.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
