"""The scorecard's rules on a destination written out by hand (tests/dmo/conftest_scorecard.py):
every figure below is worked out from that fixture in the comment beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pentad.client import UpstreamError, UpstreamUnavailable, ask
from pentad.errors import Conflict
from services.dmo import scorecard
from services.dmo.schemas import Direction, Scorecard
from services.dmo.scorecard import Snapshot
from services.promotion.client import Attribution
from tests.dmo.conftest_scorecard import TODAY, campaign, eur, fixture_found, point

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def card(snapshots: list[Snapshot] | None = None, **changes: object) -> Scorecard:
    return scorecard.compute(fixture_found(**changes), snapshots=snapshots or [], computed_at=NOW,
                             readiness_source="test")


def test_the_five_pillars_figures() -> None:
    c = card()
    assert c.segmentation.segments.value == 3
    assert c.segmentation.demand.value == 1400  # 1000 + 400; eyes has no estimate
    assert c.segmentation.demand.inputs["without_estimate"] == ["seg_eyes"]
    assert c.integration.active_providers.value == 3  # the hotel is not a provider
    assert c.integration.fresh_capacity_share.value == 0.5  # (1 + 1 + 0) / (2 + 1 + 1)
    assert c.integration.published_packages.value == 2
    assert c.administration.validly_accredited_share.value == 0.6667  # hosp_a, dent_c of 3
    assert c.administration.expiring_within_90_days.value == 2  # acc_2 (2027-01-15), acc_3 (2027-02-28) <= 2027-03-01
    assert [a["id"] for a in c.administration.expiring_within_90_days.inputs["accreditations"]] == ["acc_2", "acc_3"]
    assert c.administration.complaints_past_sla.value == 1
    assert c.development.open_gaps.value == 2  # teeth: accredited providers and weekly capacity
    assert c.development.open_gaps.inputs["segments_not_met"] == ["seg_teeth"]
    assert c.development.initiative_progress.value == 0.25  # (0.5 + 0 + 0.25) / 3; the done one left out
    assert c.development.last_assessment.value == 0.6667  # asm_2: knee and eyes met of 3
    assert c.development.last_assessment.inputs["assessment_id"] == "asm_2"
    assert c.promotion.active_campaigns.value == 1
    # 1000 EUR + 400 GBP (= 500 EUR at 0.8) + 1000 EUR + 0 USD
    assert c.promotion.spend.money is not None and c.promotion.spend.money.amount == Decimal("2500.00")
    assert c.promotion.spend.value == 2500.0
    assert c.promotion.conversion.value == 0.16  # 8 treated / 50 enquiries
    assert c.currency == "EUR" and c.pillar_calls == 20


def test_every_figure_says_how_it_is_computed() -> None:
    c = card()
    pillars = [c.segmentation, c.integration, c.administration, c.development, c.promotion, c.attributes]
    figures = [f for p in pillars for f in p.__dict__.values()] + [c.broad_brush]
    figures += [part for a in c.attributes.__dict__.values() for part in a.parts.values()]
    assert len(figures) == 14 + 6 + 1 + 4  # parts: breach rate, two markets, resolved within SLA
    assert all(f.formula and f.unit for f in figures)


def test_the_broad_brush_index_splits_each_live_campaigns_spend_across_its_segments() -> None:
    # cmp_both 1000 EUR: 500 to knee (ready), 500 to teeth (not); cmp_teeth 400 GBP = 500 EUR to teeth.
    # The ended and the draft campaign are not live: (500 + 500) / 1500.
    c = card()
    assert c.broad_brush_index == 0.6667
    assert c.broad_brush.inputs["spend"] == "1500.00" and c.broad_brush.inputs["not_ready_spend"] == "1000.00"
    both = next(x for x in c.broad_brush.inputs["campaigns"] if x["campaign_id"] == "cmp_both")
    assert both == {"campaign_id": "cmp_both", "status": "active", "spend": "1000.00", "per_segment": "500.00",
                    "ready": {"seg_knee": True, "seg_teeth": False}}


def test_a_retired_or_unknown_segment_counts_as_not_ready() -> None:
    c = card(campaigns=[campaign("cmp_gone", "active", ["seg_retired"], eur("300.00"))])
    assert c.broad_brush_index == 1.0


def test_no_live_spend_is_an_index_of_zero() -> None:
    c = card(campaigns=[campaign("cmp_draft", "draft", ["seg_teeth"], eur("0"))])
    assert c.broad_brush_index == 0.0 and c.broad_brush.inputs["spend"] == "0.00"


def test_spend_in_a_currency_without_a_rate_is_refused_not_guessed() -> None:
    with pytest.raises(Conflict, match="Spend in CHF cannot be put in EUR"):
        card(campaigns=[campaign("cmp_chf", "active", ["seg_knee"], eur("10.00", "CHF"))])


def test_the_six_attributes() -> None:
    a = card().attributes
    assert a.integrated.value == 0.5  # ready: knee (has a package), eyes (none)
    assert a.integrated.inputs == {"ready": ["seg_knee", "seg_eyes"], "with_package": ["seg_knee"]}
    assert a.efficient.value == 5400.0  # median of 3600 and 7200; dent_c never responded
    assert a.efficient.parts["breach_rate"].value == 0.2  # (1 + 3) / 20
    assert a.well_known.value == 20.0  # 50 enquiries / 2500 EUR x 1000
    assert a.well_known.parts["market_DE"].value == 30.0  # 30 / 1000 x 1000
    assert a.well_known.parts["market_GB"].value == 13.3333  # 20 / (1200 GBP = 1500 EUR) x 1000
    assert a.attractive.value == 0.6333  # (0.8 + 0.5 + 0.6) / 3
    assert a.attractive.inputs["incomplete"] == ["seg_teeth"]
    assert a.credible.value == 0.5  # offered: hosp_a (accredited), clinic_b (not); the hotel is a stay
    assert a.trusted.value == 50.0  # 4 complaints / 8 treated x 100
    assert a.trusted.parts["resolved_within_sla"].value == 0.3333  # on time 1 / (closed 2 + open past due 1)


def test_figures_with_nothing_to_divide_by_are_null() -> None:
    a = card(ready={}, performance=[], packages=[], segments=[], attractiveness={},
             attribution=Attribution.model_validate({
                 **fixture_found().attribution.model_dump(), "enquiries": 0, "treated": 0,
                 "spend": {"amount": "0", "currency": "EUR"}})).attributes
    assert a.integrated.value is None and a.efficient.value is None and a.efficient.parts["breach_rate"].value is None
    assert a.well_known.value is None and a.attractive.value is None and a.credible.value is None
    assert a.trusted.value is None


SNAPSHOTS = [Snapshot(date(2026, 9, 30), {"integrated": 0.1, "efficient": 9000.0}),
             Snapshot(date(2026, 10, 20), {"integrated": 0.25, "efficient": 6000.0, "trusted": 50.0}),
             Snapshot(TODAY, {"integrated": 0.9})]  # today's: never a baseline


def test_the_trend_runs_from_the_snapshot_standing_for_the_last_assessment_before_today() -> None:
    a = card(SNAPSHOTS).attributes
    trend = a.integrated.trend
    assert trend is not None and trend.since == date(2026, 11, 1)
    assert trend.baseline == 0.25 and trend.change == 0.25  # 0.5 now, 0.25 on 2026-10-20 (on or before 11-01)
    assert trend.direction is Direction.up and trend.improved is True
    assert [(p.assessed_on, p.taken_on, p.value) for p in trend.points] == [
        (date(2026, 10, 1), date(2026, 9, 30), 0.1), (date(2026, 11, 1), date(2026, 10, 20), 0.25)]
    efficient = a.efficient.trend
    assert efficient is not None and efficient.change == -600.0  # 5400 vs 6000: faster answers
    assert efficient.direction is Direction.down and efficient.improved is True
    trusted = a.trusted.trend
    assert trusted is not None and trusted.direction is Direction.flat and trusted.improved is None
    assert a.attractive.trend is not None and a.attractive.trend.baseline is None  # never measured


def test_without_an_earlier_snapshot_the_first_one_after_the_assessment_stands_for_it() -> None:
    later = [Snapshot(date(2026, 11, 3), {"integrated": 0.4}), Snapshot(TODAY, {"integrated": 0.9})]
    trend = card(later).attributes.integrated.trend
    assert trend is not None and trend.baseline == 0.4
    # ... but not for an older assessment: 11-03 comes after the next one (11-01).
    assert [(p.assessed_on, p.taken_on) for p in trend.points] == [(date(2026, 11, 1), date(2026, 11, 3))]


def test_no_trend_before_an_assessment_dated_before_today() -> None:
    today_only = [point("asm_now", TODAY.isoformat(), "seg_knee", True)]
    a = card(SNAPSHOTS, assessments=today_only).attributes
    assert all(getattr(a, name).trend is None for name in scorecard.HIGHER_IS_BETTER)
    assert card(SNAPSHOTS, assessments=[]).attributes.integrated.trend is None


def test_a_snapshot_keeps_each_attributes_headline_and_the_index() -> None:
    assert scorecard.values_of(card()) == {
        "integrated": 0.5, "efficient": 5400.0, "well_known": 20.0, "attractive": 0.6333, "credible": 0.5,
        "trusted": 50.0, "broad_brush_index": 0.6667}


# -- the kit's ask, nested as scorecard_sources nests it ------------------------------------------

async def _fails(error: Exception) -> None:
    raise error


async def _answers(value: int) -> int:
    return value


async def test_nested_asks_name_every_failed_pillar_once_under_one_reason() -> None:
    inner = ask(_answers(1), _fails(UpstreamError("segmentation answered 500: boom")), why=None)
    with pytest.raises(UpstreamUnavailable) as caught:
        await ask(inner, _fails(UpstreamUnavailable("promotion did not answer (ConnectError).")), _answers(2),
                  why="No figure guessed")
    assert caught.value.detail == ("No figure guessed: segmentation answered 500: boom; "
                                   "promotion did not answer (ConnectError).")
    assert await ask(ask(_answers(1), why=None), _answers(2)) == [[1], 2]


async def test_a_failure_that_is_not_a_pillars_passes_through_unchanged() -> None:
    with pytest.raises(Conflict, match="no rate"):
        await ask(_fails(Conflict("no rate")), _fails(UpstreamError("integration answered 500: x")))
