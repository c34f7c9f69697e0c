"""The coordinator's own metrics, served with the kit's on the metrics port (``pentad.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ACTIONS_FINISHED = Counter("pentad_dmo_actions_finished", "Actions that ended, by kind and final status.",
                           ["kind", "status"])
READ_MODEL_LAG = Gauge("pentad_dmo_read_model_lag_seconds",
                       "How stale the read model may be (now minus its as_of), set after each turn of the consumer; "
                       "-1 until every feed was read once.")
