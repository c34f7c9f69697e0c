"""Settings read from the environment (prefix ``PENTAD_``), never frozen at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pentad.components import SERVICE_NAMES

# Defaults of ``complaint_sla_hours``: a critical complaint is answered within a day.
COMPLAINT_SLA_HOURS: dict[str, int] = {"low": 720, "medium": 168, "high": 72, "critical": 24}


class SetupError(Exception):
    """A configuration that cannot work as given; the message says what to do (one line)."""


class Settings(BaseSettings):
    """What one process (a service or the gateway) needs to run."""

    model_config = SettingsConfigDict(env_prefix="PENTAD_", extra="ignore")

    service: str = "gateway"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    # Empty means "a SQLite file named after the service in data_dir"; "{service}" in the
    # URL is replaced by the component's name, so one template serves every database.
    # A PostgreSQL URL without it is shared: each component gets a schema (database_schema).
    database_url: str = ""
    # PostgreSQL pool (pentad/db.py): sustained concurrency up to pool size + overflow never
    # waits, and overflow connections are opened and closed per use, so size the pool.
    # Each component has its own pool: mind the server's max_connections (100 by default).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)  # seconds a request waits for a connection
    # PostgreSQL: a statement running (or waiting on a lock) longer than this is cancelled and
    # its request fails, instead of holding a connection; 0 means no limit. Migrations ignore it.
    db_statement_timeout: float = Field(default=0.0, ge=0)
    # Shared secret the gateway signs callers' identities with; services refuse unsigned calls.
    secret: str = ""
    # Where each service listens, e.g. {"segmentation": "http://127.0.0.1:8001"}; a list of
    # URLs for several replicas: the gateway spreads its traffic over them (round robin,
    # skipping those failing their health check); the services' typed clients use the first.
    service_urls: dict[str, str | list[str]] = Field(default_factory=dict)
    # Prometheus metrics of this process on a port of its own (pentad/metrics.py), on `host`;
    # 0: none. Never the public port.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    log_format: str = "auto"  # auto (JSON unless a TTY), json, console
    log_level: str = "info"
    access_log: bool = True
    # Capacity/listings not re-confirmed within this window stop counting (DOMAIN.md).
    stale_after_days: int = 14
    # How often each service's periodic sweeps run (``pentad.sweeps``); 0 or less: never on
    # their own (tests run them by hand).
    sweep_interval_seconds: float = 300.0
    # Administration: a valid accreditation reads `expiring` this many days before `expires_on`.
    accreditation_expiring_days: Annotated[int, Field(ge=0, le=3650)] = 90
    # Administration: hours a complaint may stay unresolved, by severity (its `due_at`). A
    # partial mapping keeps the defaults of the severities it leaves out.
    complaint_sla_hours: dict[str, int] = Field(default_factory=lambda: dict(COMPLAINT_SLA_HOURS))
    # Promotion: how many providers one enquiry is routed to, the hours each has to answer,
    # and how long a closed (treated or lost) enquiry keeps its patient's contact data.
    promotion_route_to: Annotated[int, Field(ge=1, le=20)] = 3
    promotion_response_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    promotion_contact_retention_days: Annotated[int, Field(ge=0, le=3650)] = 365
    # Coordinator: how often its consumer polls the pillars' feeds when drained (seconds), and
    # re-checks every segment's readiness on the clock (expiry and staleness have no event).
    dmo_feed_poll_seconds: float = 1.0
    dmo_recheck_seconds: float = 60.0
    # Coordinator: how long an offer answer is reused while nothing it reads has changed (0: never).
    dmo_offer_cache_seconds: float = 5.0
    # Gateway only.
    # Redis shared by the gateway replicas: per-key rate limits and key revocations
    # (gateway/shared.py). Empty: each replica keeps its own.
    redis_url: str = ""
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    upstream_timeout_seconds: float = 30.0
    # Proxy connections the gateway keeps open to each upstream URL at most; a request
    # finding all busy waits for one (up to the upstream timeout, then a 504).
    upstream_max_connections: int = Field(default=256, ge=1)
    # How often the gateway asks each URL of a service with several for /health/ready.
    upstream_health_interval_seconds: float = Field(default=5.0, gt=0)
    key_cache_seconds: float = 5.0
    max_body_bytes: int = 32 * 1024 * 1024  # bodies for the services
    gateway_max_body_bytes: int = 64 * 1024  # bodies for the gateway's own routes (keys) and unknown paths
    # Requests with a key the gateway does not know, per client address (each may cost a lookup).
    auth_failures_per_minute: float = 60.0
    auth_failures_burst: int = 30
    signature_max_age_seconds: int = 300
    # How long a creating POST's answer is kept for Idempotency-Key retries.
    idempotency_retention_hours: int = 168
    # Webhooks (gateway/webhooks): how often the fan-out reads the feeds and the sender looks
    # for due deliveries when idle (seconds; 0 or less: no webhook loop in this process).
    webhooks_poll_seconds: float = 1.0
    # Subscriber URLs on loopback, link-local or private addresses are refused (at subscribing
    # and at each send, against DNS rebinding) unless this is true: a local demo's receiver.
    webhooks_allow_private: bool = False
    # A failed attempt is tried again after base x 2^(attempts-1) seconds (at most
    # webhooks_retry_max_delay_seconds apart), until the delivery is webhooks_retry_hours old.
    webhooks_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhooks_retry_max_delay_seconds: float = Field(default=36000.0, gt=0)
    webhooks_retry_hours: float = Field(default=72.0, ge=0)
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0)  # one attempt; an attempt's lease is 3x this
    # A subscription is disabled when its attempts have all failed for this long AND at least
    # this many in a row (a long-idle subscription is not disabled by two failures).
    webhooks_disable_after_hours: float = Field(default=72.0, ge=0)
    webhooks_disable_after_failures: int = Field(default=20, ge=1)
    # Kubernetes: an admin key taken from a Secret instead of one written to data_dir.
    bootstrap_admin_key: str = ""
    # Set by `pentad up` for the processes of one run; /health/live reports it, so the
    # supervisor can tell its own children from another program answering on their ports.
    instance_id: str = ""

    @field_validator("complaint_sla_hours")
    @classmethod
    def _every_severity(cls, value: dict[str, int]) -> dict[str, int]:
        if unknown := sorted(value.keys() - COMPLAINT_SLA_HOURS.keys()):
            raise ValueError(f"unknown severities {unknown}; known: {sorted(COMPLAINT_SLA_HOURS)}")
        if any(hours <= 0 for hours in value.values()):
            raise ValueError("SLA hours must be positive")
        return {**COMPLAINT_SLA_HOURS, **value}

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url.replace("{service}", self.service)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service}.db').resolve()}"

    @property
    def database_schema(self) -> str | None:
        """The PostgreSQL schema of this component's tables; None for the database's default.

        A URL without ``{service}`` may be one database shared by every component: each then
        lives in a schema named after it, with its own Alembic version table. A database per
        component (``{service}``) and SQLite keep the default schema. A database of its own
        made before schemas existed keeps its tables in ``public``: ``pentad.migrate`` finds
        them there and leaves them, and ``public`` stays on the search path for them.
        """
        url = self.database_url
        if not url.startswith("postgresql") or "{service}" in url:
            return None
        return self.service

    def url_of(self, service: str) -> str:
        return self.urls_of(service)[0]

    def urls_of(self, service: str) -> list[str]:
        try:
            given = self.service_urls[service]
        except KeyError:
            raise LookupError(f"no URL configured for service {service!r}") from None
        urls = [given] if isinstance(given, str) else given
        if not urls:
            raise LookupError(f"an empty list of URLs for service {service!r}")
        return [url.rstrip("/") for url in urls]


def write_private_file(path: Path, text: str) -> None:
    """Secrets on disk (the signing secret, the bootstrap key): readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text + "\n")


def default_service_urls(host: str, gateway_port: int) -> dict[str, str]:
    """Services listen on the ports right after the gateway's, in pillar order."""
    return {name: f"http://{host}:{gateway_port + i}" for i, name in enumerate(SERVICE_NAMES, start=1)}
