"""Server-rendered SVG charts: plain geometry for the templates, no JavaScript library."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Each pillar's headline share (0..1) in the scorecard, and what it is called on the chart.
PILLAR_SHARES: tuple[tuple[str, str, str, str], ...] = (
    ("Segmentation", "attributes", "attractive", "mean attractiveness of the active segments"),
    ("Integration", "integration", "fresh_capacity_share", "provider-specialty pairs with fresh capacity"),
    ("Administration", "administration", "validly_accredited_share", "active providers validly accredited"),
    ("Development", "development", "last_assessment", "segments at threshold in the last assessment"),
    ("Promotion", "promotion", "conversion", "enquiries that became treated patients"),
)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    meaning: str
    value: float | None  # 0..1, None when the figure has nothing to divide by
    width: float  # in the chart's units
    y: float
    kind: str  # "pillar" or "index"

    @property
    def text(self) -> str:
        return "n/a" if self.value is None else f"{self.value * 100:.0f}%"


def _share(value: Any) -> float | None:
    return None if value is None else max(0.0, min(1.0, float(value)))


BAR_WIDTH = 420.0
ROW = 44.0


def pillar_bars(card: Mapping[str, Any]) -> list[Bar]:
    """Five pillar bars and, last, the broad-brush index (a share of spend: lower is better)."""
    bars = []
    rows = [(label, meaning, _share(card[part][key]["value"]), "pillar")
            for label, part, key, meaning in PILLAR_SHARES]
    rows.append(("Broad-brush index", "promotion spend on segments not ready (lower is better)",
                 _share(card["broad_brush_index"]), "index"))
    for i, (label, meaning, value, kind) in enumerate(rows):
        bars.append(Bar(label, meaning, value, (value or 0.0) * BAR_WIDTH, 12 + i * ROW, kind))
    return bars


@dataclass(frozen=True, slots=True)
class Column:
    label: str  # the assessment date
    met: int
    total: int
    x: float
    height: float  # of the met part
    full: float  # of the whole column


TREND_HEIGHT = 160.0
COLUMN_STEP = 90


def assessment_columns(points: Sequence[Mapping[str, Any]], *, last: int = 12) -> list[Column]:
    """Per assessment (by date): how many segments met their critical threshold, of those assessed."""
    by_date: dict[str, list[bool]] = {}
    for p in points:
        by_date.setdefault(str(p["as_of"]), []).append(bool(p["met"]))
    dates = sorted(by_date)[-last:]
    top = max((len(by_date[d]) for d in dates), default=1) or 1
    return [Column(d, sum(by_date[d]), len(by_date[d]), 50 + i * COLUMN_STEP,
                   TREND_HEIGHT * sum(by_date[d]) / top, TREND_HEIGHT * len(by_date[d]) / top)
            for i, d in enumerate(dates)]


def heat_level(value: int, top: int) -> int:
    """0..5, the shade of a heat-map cell (0: no fresh slot)."""
    if value <= 0 or top <= 0:
        return 0
    return max(1, min(5, round(5 * value / top)))
