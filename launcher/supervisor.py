"""``pentad up``: every service and the gateway, each in its own process.

Checks that every port is free, migrates every database, starts the services on the ports
after the gateway's, then the gateway; restarts a process that dies (with back-off) and
stops them all cleanly on Ctrl-C / SIGTERM. It says "Pentad is up" only once each of its
own processes answers: every child gets this run's instance id (``PENTAD_INSTANCE_ID``)
and ``/health/live`` reports it, so another program on a port is never taken for ours.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

from launcher import demo
from launcher.preflight import check_ports_free, migrate_components
from pentad.components import COMPONENT_NAMES, SERVICE_NAMES
from pentad.settings import Settings, default_service_urls, write_private_file

log = structlog.get_logger("pentad.up")

# How long every process gets to answer ready before `pentad up` gives up.
START_TIMEOUT_S = 90.0


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
    port: int
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
        self.instance = secrets.token_hex(8)
        self.children: list[Child] = []
        self.stopping = asyncio.Event()

    @property
    def gateway(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _env(self, component: str, port: int, secret: str, urls: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PENTAD_SERVICE=component, PENTAD_HOST=self.host, PENTAD_PORT=str(port),
                   PENTAD_SECRET=secret, PENTAD_DATA_DIR=str(self.data_dir),
                   PENTAD_SERVICE_URLS=json.dumps(urls), PENTAD_INSTANCE_ID=self.instance)
        return env

    async def run(self) -> int:
        """0 after a clean stop; 1 when it could not come up. Set-up failures raise SetupError."""
        check_ports_free(self.host, range(self.port, self.port + len(COMPONENT_NAMES)))
        secret = load_or_create_secret(self.data_dir)
        urls = default_service_urls(self.host, self.port)
        await asyncio.to_thread(migrate_components, COMPONENT_NAMES, self.data_dir,
                                lambda c: log.info("migrate.done", component=c))
        for i, name in enumerate(SERVICE_NAMES, start=1):
            self.children.append(Child(name, self.port + i, self._env(name, self.port + i, secret, urls)))
        self.children.append(Child("gateway", self.port, self._env("gateway", self.port, secret, urls)))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        for child in self.children:
            await child.start()
        # Watch from the first moment: a process dying while we wait for health restarts too.
        watching = asyncio.create_task(self._watch())
        failure = await self._until_stopped_or(self._start_up())
        if failure:
            print(f"pentad up: {failure}", file=sys.stderr, flush=True)
            self.stopping.set()
        await watching
        await asyncio.gather(*(c.stop() for c in reversed(self.children)))
        return 1 if failure else 0

    async def _until_stopped_or(self, work: Coroutine[Any, Any, str | None]) -> str | None:
        """The start-up's failure, if any; Ctrl-C during it cancels it (a demo load cut short
        this way is finished by the next start)."""
        task = asyncio.create_task(work)
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return None
        result: str | None = task.result()
        return result

    async def _start_up(self) -> str | None:
        if failure := await self.wait_own_children(within=START_TIMEOUT_S):
            return failure
        outcome = await self._load_demo() if self.demo else "off (--no-demo)"
        self._announce(outcome)
        return None

    async def wait_own_children(self, *, within: float) -> str | None:
        """None once every child answers ready as ours; else why not."""
        waiting = list(self.children)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while waiting and time.monotonic() < deadline:
                for child in list(waiting):
                    answer = await self.probe(client, child)
                    if answer == "ready":
                        waiting.remove(child)
                    elif answer:
                        return answer
                await asyncio.sleep(0.25)
        if waiting:
            names = ", ".join(f"{c.component} (port {c.port})" for c in waiting)
            return f"not ready within {within:.0f} s: {names}; their log lines above say why"
        return None

    async def probe(self, client: httpx.AsyncClient, child: Child) -> str | None:
        """"ready"; None while it is starting; otherwise why the port is not ours."""
        base = f"http://{_connectable(self.host)}:{child.port}"
        try:
            live = await client.get(base + "/health/live")
            body = live.json() if live.status_code == 200 else {}
        except httpx.HTTPError:
            return None  # not listening yet (or restarting)
        except ValueError:
            body = {}
        if body.get("instance") != self.instance or body.get("service") != child.component:
            return (f"port {child.port} is answered by another program, not the {child.component} this "
                    "pentad up started; stop it or pick another --port")
        try:
            ready = await client.get(base + "/health/ready")
        except httpx.HTTPError:
            return None
        return "ready" if ready.status_code == 200 else None

    async def _load_demo(self) -> str:
        key = Settings().bootstrap_admin_key or _read(self.data_dir / "admin.key")
        if not key:
            return "not loaded: no admin key to load it with (admin.key was not written: the gateway had keys)"
        retention = timedelta(hours=Settings().idempotency_retention_hours)
        local = f"http://{_connectable(self.host)}:{self.port}"
        async with httpx.AsyncClient(base_url=local, headers={"Authorization": f"Bearer {key}"},
                                     timeout=30) as client:
            try:
                outcome = await demo.load_once(client, self.data_dir, retention=retention,
                                               between_attempts=self._settle)
            except httpx.HTTPError as exc:
                return f"not loaded: the platform did not answer as expected ({type(exc).__name__}: {exc})"
        log.info("demo.outcome", loaded=outcome.loaded, outcome=outcome.line)
        return outcome.line

    async def _settle(self) -> None:
        """Between demo attempts: wait for every process to be ready again."""
        await self.wait_own_children(within=30)

    def _announce(self, demo_line: str) -> None:
        """The summary, on stderr: it stays readable when stdout is JSON logs (or a file)."""
        if Settings().bootstrap_admin_key:
            key = "the PENTAD_BOOTSTRAP_ADMIN_KEY you set"
        elif (self.data_dir / "admin.key").exists():
            key = str(self.data_dir / "admin.key")
        else:
            key = (f"none written (the gateway already had keys); make one with: "
                   f"pentad keys create --role admin --name <you> --data-dir {self.data_dir}")
        lines = [f"Pentad is up: {self.gateway}  (docs: {self.gateway}/docs)",
                 f"Console: {self.gateway}/console  (sign in with the admin key or a staff key)", f"Admin key: {key}",
                 f"Keys: pentad keys create|list|revoke --data-dir {self.data_dir}",
                 f"Demo: {demo_line}", "Stop: Ctrl-C"]
        bar = "=" * max(len(line) for line in lines)
        print("\n".join(["", bar, *lines, bar, ""]), file=sys.stderr, flush=True)
        log.info("up.ready", gateway=self.gateway, instance=self.instance)

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


def _connectable(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
