"""Fast unit tests of Segmentation's attractiveness score and of the kit's cursors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from pentad.errors import Invalid
from pentad.pagination import decode_cursor, encode_cursor
from services.integration.schemas import Coverage, FxRates, FxTable
from services.segmentation.schemas import SegmentOut
from services.segmentation.service import attractiveness

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _segment(**demand: object) -> SegmentOut:
    return SegmentOut.model_validate({
        "id": "seg_1", "name": "s", "family": "medical", "specialties": ["orthopaedics", "cardiology"],
        "source_markets": ["DE"], "payer_types": ["self_pay"], "motivation": "have_to", "status": "active",
        "threshold": {"min_accredited_providers": 1, "min_weekly_capacity": 1},
        "demand": demand or None, "created_at": NOW, "updated_at": NOW})


def _coverage(specialty: str, fresh: int) -> Coverage:
    return Coverage(specialty=specialty, providers=fresh, providers_with_fresh_capacity=fresh, weekly_fresh_slots=fresh)


def test_the_score_is_the_sum_of_weighted_components() -> None:
    segment = _segment(annual_patients=100_000, avg_spend={"amount": "12000", "currency": "GBP"}, growth_rate="0.075")
    fx = FxRates(base="EUR", rates={"GBP": Decimal("0.8")})
    result = attractiveness(segment, fx=fx, coverage=[_coverage("orthopaedics", 1), _coverage("cardiology", 0)])
    parts = {c.name: c for c in result.components}
    assert parts["size"].normalised == 1.0                  # at saturation
    assert parts["value"].raw == "15000.00 EUR" and parts["value"].normalised == 1.0  # 12000 GBP / 0.8
    assert parts["growth"].normalised == 0.5                # (0.075 + 0.05) / 0.25
    assert parts["fit"].raw == "1/2" and parts["fit"].normalised == 0.5
    assert result.score == pytest.approx(0.25 + 0.25 + 0.2 * 0.5 + 0.3 * 0.5)
    assert result.complete


def test_missing_inputs_count_zero_and_mark_the_score_incomplete() -> None:
    result = attractiveness(_segment(), fx=FxRates(base="EUR", rates={}), coverage=[])
    assert not result.complete
    assert [c.normalised for c in result.components] == [None, None, None, 0.0]
    assert result.score == 0.0


def test_a_spend_in_a_currency_without_a_rate_is_explained_not_guessed() -> None:
    segment = _segment(annual_patients=10, avg_spend={"amount": "100", "currency": "JPY"}, growth_rate="0")
    value = next(c for c in attractiveness(segment, fx=FxRates(base="EUR", rates={}), coverage=[]).components
                 if c.name == "value")
    assert value.normalised is None and "JPY" in value.explanation


_ID = sa.Column("id", sa.String)
_DAY, _CODE = sa.Column("day", sa.Date), sa.Column("code", sa.String)


_SEQ = sa.Column("seq", sa.BigInteger)


def test_cursors_round_trip_on_one_column_and_several() -> None:
    assert decode_cursor(encode_cursor(["seg_01"]), [_ID]) == ("seg_01",)
    assert decode_cursor(encode_cursor([41]), [_SEQ]) == (41,)  # a sequence, e.g. the audit trail's
    assert decode_cursor(encode_cursor([dt.date(2026, 1, 2), "x"]), [_DAY, _CODE]) == (dt.date(2026, 1, 2), "x")


@pytest.mark.parametrize("cursor", ["***", "", encode_cursor(["a"]), encode_cursor([1, "x"]),
                                    encode_cursor(["2026-13-01", "x"])])
def test_cursors_this_api_did_not_give_out_are_422(cursor: str) -> None:
    with pytest.raises(Invalid):
        decode_cursor(cursor, [_DAY, _CODE])


def test_a_spend_converted_at_extreme_rates_scores_without_failing() -> None:
    # The widest rates the first FX bounds took: 1e14 XAU is 1e34 EUR, 37 digits with its cents.
    segment = _segment(annual_patients=10, avg_spend={"amount": "99999999999999", "currency": "XAU"},
                       growth_rate="0")
    fx = FxTable(base="USD", rates={"XAU": Decimal("0.0000000001"), "EUR": Decimal("9999999999")})
    value = next(c for c in attractiveness(segment, fx=fx, coverage=[]).components if c.name == "value")
    assert value.normalised == 1.0 and value.raw == "9999999998999900000000010000000000.00 EUR"
    # A rate no bound ever allowed: explained, not a failed request.
    fx = FxTable(base="USD", rates={"XAU": Decimal("1E-80"), "EUR": Decimal("1")})
    value = next(c for c in attractiveness(segment, fx=fx, coverage=[]).components if c.name == "value")
    assert value.normalised is None and "too large" in value.explanation


def test_a_sequence_cursor_must_hold_digits() -> None:
    with pytest.raises(Invalid):
        decode_cursor(encode_cursor(["abc"]), [_SEQ])
