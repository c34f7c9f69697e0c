"""The console's pure parts: the session cookie's sealing and the charts' geometry."""

from __future__ import annotations

from typing import Any

from gateway.console import charts
from gateway.console.session import SESSION_SECONDS, Sessions, csrf_ok

SECRET = b"unit-test-secret"


def test_a_sealed_session_opens_only_unchanged_under_its_secret_and_before_it_expires() -> None:
    sessions = Sessions(SECRET)
    made = sessions.new(key="pk_secret_key_value", role="staff", now=1000.0)
    sealed = sessions.seal(made)
    assert "pk_secret_key_value" not in sealed
    assert sessions.open(sealed, now=1001.0) == made
    assert len(made.id) >= 24 and made.id != sessions.new(key="pk_secret_key_value", role="staff").id
    assert sessions.seal(made) != sealed  # a fresh nonce each time
    assert Sessions(b"other").open(sealed, now=1001.0) is None
    flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    assert sessions.open(flipped, now=1001.0) is None
    assert sessions.open(sealed, now=1000.0 + SESSION_SECONDS + 1) is None
    for junk in (None, "", "!!!", "x" * 5000):
        assert sessions.open(junk) is None


def test_csrf_tokens() -> None:
    sessions = Sessions(SECRET)
    made = sessions.new(key="k", role="admin")
    assert csrf_ok(made, made.csrf) and not csrf_ok(made, None) and not csrf_ok(made, made.csrf + "x")
    token = sessions.login_token("nonce-1")
    assert sessions.login_token_ok("nonce-1", token)
    assert not sessions.login_token_ok("nonce-2", token) and not sessions.login_token_ok(None, token)
    assert not Sessions(b"other").login_token_ok("nonce-1", token)


def _figure(value: Any) -> dict[str, Any]:
    return {"value": value}


def test_pillar_bars_are_shares_clamped_with_the_index_last() -> None:
    card = {"attributes": {"attractive": _figure(0.5)}, "integration": {"fresh_capacity_share": _figure(1.7)},
            "administration": {"validly_accredited_share": _figure(-1)},
            "development": {"last_assessment": _figure(None)}, "promotion": {"conversion": _figure(0.25)},
            "broad_brush_index": 0.4}
    bars = charts.pillar_bars(card)
    assert [b.label for b in bars] == ["Segmentation", "Integration", "Administration", "Development", "Promotion",
                                       "Broad-brush index"]
    assert [b.value for b in bars] == [0.5, 1.0, 0.0, None, 0.25, 0.4]
    assert bars[1].width == charts.BAR_WIDTH and bars[3].width == 0 and bars[3].text == "n/a"
    assert bars[-1].kind == "index" and bars[0].text == "50%"


def test_assessment_columns_count_segments_met_per_date() -> None:
    points = [{"as_of": "2026-09-01", "met": False}, {"as_of": "2026-08-01", "met": True},
              {"as_of": "2026-09-01", "met": True}, {"as_of": "2026-09-01", "met": True}]
    columns = charts.assessment_columns(points)
    assert [(c.label, c.met, c.total) for c in columns] == [("2026-08-01", 1, 1), ("2026-09-01", 2, 3)]
    assert columns[1].full == charts.TREND_HEIGHT and columns[0].full == charts.TREND_HEIGHT / 3
    assert charts.assessment_columns([]) == []


def test_heat_levels() -> None:
    assert [charts.heat_level(v, 100) for v in (0, 1, 20, 50, 100, 150)] == [0, 1, 1, 2, 5, 5]
    assert charts.heat_level(5, 0) == 0


def test_times_and_durations_read_as_people_read_them() -> None:
    from gateway.console.pages import _duration, _when

    assert _when("2026-11-30T05:09:30.408038Z") == "2026-11-30 05:09 UTC"
    assert _when("2026-11-30T07:09:30+02:00") == "2026-11-30 05:09 UTC"
    assert _when(None) == "—" and _when("not a time") == "not a time"
    assert [_duration(s) for s in (None, 0.1, 90, 7200)] == ["—", "0.1 s", "2 min", "2.0 h"]
