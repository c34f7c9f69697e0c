"""What a step of an action is, and how a pillar's answer reads as its outcome.

A step calls one pillar through its typed client and answers ``Done``; it raises ``Refused``
for a business failure. What a pillar says decides the rest (``outcome_of``):
- 4xx: the pillar refused (a business failure): the action fails and what it did is undone;
- unreachable, a timeout, 5xx, 408 or 429: the pillar may come back: the step is tried
  again later, with the same idempotency key, so whatever the first try did is not done twice.
Steps build their requests only from the action's stored input and what earlier steps
recorded, never from the clock or a fresh read, so a retry sends the very same request
(a pillar answers the same key with another body with a 409).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from pentad.client import UpstreamError
from pentad.db import Database
from pentad.settings import Settings
from services.administration.client import AdministrationClient
from services.development.client import DevelopmentClient
from services.integration.client import IntegrationClient
from services.promotion.client import PromotionClient

TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class ReadModel:
    """The coordinator's own read model, where readiness is judged (``offer.readiness``), and how
    long a step waits for it to catch up with the moment its action was made."""

    db: Database
    stale_after_days: int
    wait_seconds: float
    # Reads the pillars' feeds to their end now (as the consumer does, under the same locks),
    # so a launch need not wait for the consumer's next turn; None: wait for it.
    catch_up: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Pillars:
    """The typed clients an action's steps call, as the coordinator (``service:dmo``, staff),
    and the coordinator's read model."""

    integration: IntegrationClient
    administration: AdministrationClient
    development: DevelopmentClient
    promotion: PromotionClient
    read_model: ReadModel | None = None

    @classmethod
    def of(cls, http: httpx.AsyncClient, settings: Settings, *, read_model: ReadModel | None = None) -> Pillars:
        return cls(IntegrationClient.for_settings(http, settings), AdministrationClient.for_settings(http, settings),
                   DevelopmentClient.for_settings(http, settings), PromotionClient.for_settings(http, settings),
                   read_model)


@dataclass(frozen=True, slots=True)
class Call:
    """What a step (or its undo) is given."""

    action_id: str
    step: str
    key: str  # the step's idempotency key
    input: dict[str, Any]
    records: dict[str, Any]  # what earlier steps recorded
    result: dict[str, Any] | None  # this step's own result (for its undo)
    pillars: Pillars
    created_at: datetime | None = None  # when the action was made (what a read must be as recent as)


@dataclass(frozen=True, slots=True)
class Done:
    result: dict[str, Any]
    records: dict[str, Any] = field(default_factory=dict)  # facts for later steps and the answer
    reasons: list[str] = field(default_factory=list)  # non-empty: the action is refused (ends failed)


class NotYet(Exception):
    """A step cannot answer yet (e.g. the read model is behind): tried again later, like an
    unavailable pillar."""


class Refused(Exception):
    """A business failure a step finds itself (e.g. the campaign does not exist)."""

    def __init__(self, reason: str, *, status: int | None = None, problem: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.problem = reason, status, problem


StepFn = Callable[[Call], Awaitable[Done]]
UndoFn = Callable[[Call], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StepDef:
    name: str
    run: StepFn
    undo: UndoFn | None = None  # what compensates it when a later step fails
    # False: runs unless the action was refused; True: runs only when it was (e.g. opening
    # initiatives for the gaps a refused launch found).
    on_refusal: bool = False


def key_of(action_id: str, step: str) -> str:
    """A step's idempotency key: the same for every try of that step of that action."""
    return f"dmo-{action_id}-{step}"


def outcome_of(exc: Exception) -> Refused | None:
    """The business failure an exception means, or None when the step should be tried again."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, UpstreamError) and exc.upstream_status is not None \
            and 400 <= exc.upstream_status < 500 and exc.upstream_status not in TRANSIENT_STATUSES:
        return Refused(str(exc) + _fields(exc.problem), status=exc.upstream_status, problem=_short(exc.problem))
    return None


def _fields(problem: dict[str, Any]) -> str:
    """The pillar's field errors, for the reason to say which input it refused."""
    errors = problem.get("errors")
    if not isinstance(errors, list) or not errors:
        return ""
    said = [f"{e.get('field')}: {e.get('message')}" for e in errors[:5] if isinstance(e, dict)]
    return f" ({'; '.join(said)})" if said else ""


def _short(problem: dict[str, Any]) -> dict[str, Any]:
    """The parts of a pillar's problem worth keeping on the step (its field errors included)."""
    return {k: problem[k] for k in ("type", "title", "status", "detail", "errors") if k in problem}
