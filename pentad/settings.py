"""Settings read from the environment (prefix ``PENTAD_``), never frozen at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pentad.components import SERVICE_NAMES


class Settings(BaseSettings):
    """What one process (a service or the gateway) needs to run."""

    model_config = SettingsConfigDict(env_prefix="PENTAD_", extra="ignore")

    service: str = "gateway"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    # Empty means "a SQLite file named after the service in data_dir"; "{service}" in the
    # URL is replaced by the component's name, so one template serves every database.
    database_url: str = ""
    # PostgreSQL pool (pentad/db.py): sustained concurrency up to pool size + overflow never
    # waits, and overflow connections are opened and closed per use, so size the pool.
    # Each component has its own pool: mind the server's max_connections (100 by default).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)  # seconds a request waits for a connection
    # Shared secret the gateway signs callers' identities with; services refuse unsigned calls.
    secret: str = ""
    # Where each service listens, e.g. {"segmentation": "http://127.0.0.1:8001"}.
    service_urls: dict[str, str] = Field(default_factory=dict)
    log_format: str = "auto"  # auto (JSON unless a TTY), json, console
    log_level: str = "info"
    access_log: bool = True
    # Capacity/listings not re-confirmed within this window stop counting (DOMAIN.md).
    stale_after_days: int = 14
    # Gateway only.
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    upstream_timeout_seconds: float = 30.0
    key_cache_seconds: float = 5.0
    max_body_bytes: int = 32 * 1024 * 1024  # bodies for the services
    gateway_max_body_bytes: int = 64 * 1024  # bodies for the gateway's own routes (keys) and unknown paths
    # Requests with a key the gateway does not know, per client address (each may cost a lookup).
    auth_failures_per_minute: float = 60.0
    auth_failures_burst: int = 30
    signature_max_age_seconds: int = 300
    # How long a creating POST's answer is kept for Idempotency-Key retries.
    idempotency_retention_hours: int = 168
    # Kubernetes: an admin key taken from a Secret instead of one written to data_dir.
    bootstrap_admin_key: str = ""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url.replace("{service}", self.service)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service}.db').resolve()}"

    def url_of(self, service: str) -> str:
        try:
            return self.service_urls[service].rstrip("/")
        except KeyError:
            raise LookupError(f"no URL configured for service {service!r}") from None


def write_private_file(path: Path, text: str) -> None:
    """Secrets on disk (the signing secret, the bootstrap key): readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text + "\n")


def default_service_urls(host: str, gateway_port: int) -> dict[str, str]:
    """Services listen on the ports right after the gateway's, in pillar order."""
    return {name: f"http://{host}:{gateway_port + i}" for i, name in enumerate(SERVICE_NAMES, start=1)}
