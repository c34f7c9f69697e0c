"""Events the coordinator publishes (through the outbox): its actions' progress.

Written where they happen (``actions.py`` starts an action, ``runner.py`` finishes it); the
list is here so every service declares its types in the same room.
"""

from __future__ import annotations

# Every type this service publishes (webhooks take subscriptions to these only).
TYPES = frozenset({"action.started", "action.succeeded", "action.failed", "action.compensated"})
