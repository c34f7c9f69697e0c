"""The ``pentad`` command: ``up``, ``migrate``, ``keys create``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pentad import migrate
from pentad.components import COMPONENT_NAMES
from pentad.identity import Role
from pentad.logging import configure_logging
from pentad.settings import Settings


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
    if args.command == "up":
        from launcher.supervisor import Supervisor

        return asyncio.run(Supervisor(host=args.host, port=args.port, data_dir=args.data_dir,
                                      demo=args.demo).run())
    if args.command == "migrate":
        components = [args.component] if args.component else list(COMPONENT_NAMES)
        for component in components:
            url = Settings(service=component, data_dir=args.data_dir).resolved_database_url()
            migrate.upgrade(component, url)
            print(f"{component}: at head")
        return 0
    return asyncio.run(_create_key(args))


async def _create_key(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gateway import keys
    from gateway.schemas import KeyIn
    from pentad.db import Database

    try:
        key_in = KeyIn(name=args.name, role=Role(args.role), stakeholder_id=args.stakeholder_id)
    except ValidationError as exc:
        print(f"pentad keys create: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    settings = Settings(service="gateway", data_dir=args.data_dir)
    await asyncio.to_thread(migrate.upgrade, "gateway", settings.resolved_database_url())
    db = Database.connect(settings.resolved_database_url())
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
