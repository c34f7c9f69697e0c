"""``pentad up``: every service and the gateway, each in its own process.

Migrates every database first, starts the services on the ports after the gateway's,
then the gateway; restarts a process that dies (with back-off) and stops them all
cleanly on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from pentad import migrate
from pentad.components import COMPONENT_NAMES, SERVICE_NAMES
from pentad.settings import Settings, default_service_urls, write_private_file

log = structlog.get_logger("pentad.up")


def load_or_create_secret(data_dir: Path) -> str:
    if env := os.environ.get("PENTAD_SECRET"):
        return env
    path = data_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    write_private_file(path, secret)
    return secret


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor dies, even by SIGKILL (no orphans on ports)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class Child:
    component: str
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    async def start(self) -> None:
        self.started_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "launcher.serve", self.component, env=self.env, preexec_fn=_die_with_parent)

    async def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Supervisor:
    def __init__(self, *, host: str, port: int, data_dir: Path, demo: bool) -> None:
        self.host, self.port, self.data_dir, self.demo = host, port, data_dir.resolve(), demo
        self.children: list[Child] = []
        self.stopping = asyncio.Event()

    def _env(self, component: str, port: int, secret: str, urls: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PENTAD_SERVICE=component, PENTAD_HOST=self.host, PENTAD_PORT=str(port),
                   PENTAD_SECRET=secret, PENTAD_DATA_DIR=str(self.data_dir),
                   PENTAD_SERVICE_URLS=json.dumps(urls))
        return env

    async def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = load_or_create_secret(self.data_dir)
        urls = default_service_urls(self.host, self.port)
        await asyncio.to_thread(migrate_all, self.data_dir)
        for i, name in enumerate(SERVICE_NAMES, start=1):
            self.children.append(Child(name, self._env(name, self.port + i, secret, urls)))
        self.children.append(Child("gateway", self._env("gateway", self.port, secret, urls)))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        for child in self.children:
            await child.start()
        # Watch from the first moment: a process dying while we wait for health restarts too.
        watching = asyncio.create_task(self._watch())
        await self._announce(f"http://{self.host}:{self.port}")
        await watching
        await asyncio.gather(*(c.stop() for c in reversed(self.children)))
        return 0

    async def _announce(self, gateway: str) -> None:
        if not await wait_healthy(gateway, within=60):
            log.error("up.unhealthy", gateway=gateway)
            return
        if self.demo:
            await self._load_demo(gateway)
        print(f"\nPentad is up: {gateway}  (docs: {gateway}/docs)\n"
              f"Admin key: {self.data_dir / 'admin.key'}\n", flush=True)

    async def _watch(self) -> None:
        while not self.stopping.is_set():
            for child in self.children:
                if child.proc is not None and child.proc.returncode is not None and not self.stopping.is_set():
                    # Back off when a process keeps dying right after starting.
                    quick = time.monotonic() - child.started_at < 10
                    child.restarts = child.restarts + 1 if quick else 0
                    delay = min(30.0, 0.5 * 2 ** child.restarts) if quick else 0.5
                    log.warning("up.restart", component=child.component,
                                returncode=child.proc.returncode, delay_s=delay)
                    await asyncio.sleep(delay)
                    if not self.stopping.is_set():
                        await child.start()
            try:
                await asyncio.wait_for(self.stopping.wait(), 0.5)
            except TimeoutError:
                pass


    async def _load_demo(self, gateway: str, attempts: int = 3) -> None:
        """Every create in the demo is idempotent, so a load cut short (a service restarting
        under it) is simply run again; failing that, the platform still runs without it."""
        from launcher import demo

        for attempt in range(1, attempts + 1):
            try:
                await demo.load(gateway, self.data_dir)
                return
            except httpx.HTTPError as exc:
                log.warning("demo.retry", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
                await wait_healthy(gateway, within=30)
        log.error("demo.failed", attempts=attempts)


def migrate_all(data_dir: Path) -> None:
    for component in COMPONENT_NAMES:
        settings = Settings(service=component, data_dir=data_dir)
        migrate.upgrade(component, settings.resolved_database_url())
        log.info("migrate.done", component=component)


async def wait_healthy(gateway: str, *, within: float) -> bool:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(gateway + "/health")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    return False
