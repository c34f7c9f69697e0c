"""The ``pentad`` command: ``up``, ``migrate``, ``keys create``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from pathlib import Path

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
    return p


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
    return asyncio.run(_create_key(args))


async def _create_key(args: argparse.Namespace) -> int:
    from gateway import keys
    from gateway.schemas import KeyIn
    from pentad.db import Database

    try:
        key_in = KeyIn(name=args.name, role=Role(args.role), stakeholder_id=args.stakeholder_id)
    except ValidationError as exc:
        print(f"pentad keys: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    check_database_url(Settings().database_url, shared=False)
    if uses_data_dir():
        _warn("keys", prepare_data_dir(args.data_dir))
    settings = Settings(service="gateway", data_dir=args.data_dir)
    await asyncio.to_thread(migrate_components, ["gateway"], args.data_dir)
    db = Database.connect(settings.resolved_database_url(), schema=settings.database_schema)
    try:
        async with db.sessionmaker() as session:
            record, key = await keys.create(session, key_in=key_in)
            await session.commit()
    finally:
        await db.dispose()
    print(f"{key}\n(id {record.id}, role {record.role}; shown once, keep it safe)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
