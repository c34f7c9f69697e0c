"""What the ``pentad`` command checks and prepares before it starts anything.

Each failure is a ``SetupError`` whose message is the one line the user sees.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pentad import migrate
from pentad.settings import Settings, SetupError

ASYNC_DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")


def private_umask() -> None:
    """Files this process and its children create (SQLite databases, their journals) are
    the owner's alone, whatever the caller's umask."""
    os.umask(os.umask(0o077) | 0o077)


def prepare_data_dir(path: Path) -> str | None:
    """Create the data dir owner-only; returns a warning for an existing one open to others.

    An existing directory is the user's: it is not chmod-ed behind their back, only named."""
    try:
        path.mkdir(mode=0o700, parents=True)
        path.chmod(0o700)  # whatever the umask: we made it, it holds keys and databases
    except FileExistsError:
        if not path.is_dir():
            raise SetupError(f"cannot create the data dir {path}: a file has that name") from None
    except OSError as exc:
        raise SetupError(f"cannot create the data dir {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SetupError(f"the data dir {path} is not writable by this user")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return (f"warning: data dir {path} is open to other users (mode {mode:04o}); "
                f"`chmod 700 {path}` keeps its databases and keys private")
    return None


def uses_data_dir() -> bool:
    """Whether databases go to SQLite files in the data dir (no PENTAD_DATABASE_URL)."""
    return not Settings().database_url


def check_database_url(raw: str, *, shared: bool) -> None:
    """``shared``: the URL serves several components (``pentad up``, ``pentad migrate``)."""
    if not raw:
        return
    try:
        url = make_url(raw.replace("{service}", "x"))
    except ArgumentError:
        raise SetupError("PENTAD_DATABASE_URL is not a database URL; e.g. postgresql+asyncpg://user@host:5432/"
                         "pentad or sqlite+aiosqlite:////data/{service}.db") from None
    if url.drivername not in ASYNC_DRIVERS:
        raise SetupError(f"PENTAD_DATABASE_URL names the driver {url.drivername!r}; "
                         "use postgresql+asyncpg://... or sqlite+aiosqlite:///...")
    if shared and url.drivername.startswith("sqlite") and "{service}" not in raw:
        raise SetupError("PENTAD_DATABASE_URL: put {service} in a SQLite URL, one file per component "
                         "(e.g. sqlite+aiosqlite:////data/{service}.db)")


def check_ports_free(host: str, ports: Iterable[int]) -> None:
    """Bind each port as uvicorn will (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in ports:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise SetupError(f"port {port} on {host} is already in use; stop what holds it or pick "
                                     "another --port") from None
                raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def migrate_components(components: Sequence[str], data_dir: Path,
                       done: Callable[[str], object] = lambda _: None) -> None:
    """Each component's database made if missing and brought to head (blocking: run it in
    a thread from async code)."""
    for component in components:
        settings = Settings(service=component, data_dir=data_dir)
        url = settings.resolved_database_url()
        migrate.ensure_database(url)
        migrate.upgrade(component, url, schema=settings.database_schema)
        done(component)
