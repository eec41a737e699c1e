"""Alert rules: what fires, its value and threshold, and the once-per-period identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from core.alerts import (
    ErrorRateRule,
    LatencyRule,
    RateLimitRule,
    SpikeRule,
    WindowMetrics,
    budget_alerts,
    cost_spike_alert,
    error_rate_alert,
    forecast_alert,
    has_volume,
    latency_alert,
    rate_limit_alert,
    rule_from_params,
    rule_params,
    spike_alerts,
    spike_limit,
    window_alerts,
)
from core.forecast import budget_status
from core.pricing import PriceBook
from core.scopes import (
    Scope,
    ScopeError,
    canonical_scope,
    has_control_characters,
    parse_scope,
)
from core.stats import LATENCY_EDGES_MS, bucket_index

D = Decimal
TODAY = date(2026, 3, 15)


def _flat(amount: Decimal, start: date, end: date) -> dict[date, Decimal]:
    return {start + timedelta(days=i): amount for i in range((end - start).days + 1)}


def _status(amount: Decimal):
    # $10 a day since Feb 10: Mar 1..14 = 140 spent, forecast 310 at month end
    return budget_status(
        _flat(D(10), date(2026, 2, 10), date(2026, 3, 14)), TODAY, amount, (50, 75, 90, 100)
    )


def test_budget_alerts_one_per_reached_threshold() -> None:
    alerts = budget_alerts("Team", "project:x", _status(D(175)), "2026-03")
    # 140 / 175 = 80 % -> 50 and 75 reached
    assert [a.threshold for a in alerts] == [D(50), D(75)]
    assert all(a.value == D("80.00") and a.unit == "%" for a in alerts)
    assert [a.key for a in alerts] == ["budget:Team:50", "budget:Team:75"]
    assert "Usage page" in alerts[0].message and "$140.00 of $175.00" in alerts[0].message


def test_budget_over_100_says_to_pause_or_raise() -> None:
    alerts = budget_alerts("Team", "all", _status(D(100)), "2026-03")
    assert alerts[-1].threshold == D(100) and alerts[-1].value == D("140.00")
    assert "raise the budget" in alerts[-1].message


def test_forecast_alert_fires_before_the_budget_is_crossed() -> None:
    alert = forecast_alert("Team", "all", _status(D(250)), "2026-03")
    assert alert is not None
    # forecast 310 / 250 = 124 %; cumulative reaches 250 on Mar 25
    assert (alert.value, alert.threshold) == (D("124.00"), D(100))
    assert "2026-03-25" in alert.message


@pytest.mark.parametrize("amount", [D(400), D(120)])
def test_forecast_alert_silent_when_under_or_already_over(amount: Decimal) -> None:
    # 400: forecast 310 fits; 120: already spent 140, the 100 % threshold says it
    assert forecast_alert("Team", "all", _status(amount), "2026-03") is None


@pytest.mark.parametrize(
    ("requests", "errors", "fires", "value"),
    [
        (100, 9, True, D("9.00")),  # 9 / 100 > the default 8 %
        (100, 8, False, None),
        (10, 5, False, None),  # 50 %, but 10 requests are too few to judge
        (200, 17, True, D("8.50")),
    ],
)
def test_error_rate(requests: int, errors: int, fires: bool, value: Decimal | None) -> None:
    alert = error_rate_alert(
        WindowMetrics(requests, errors, 0), ErrorRateRule(), "all", "2026-03-15"
    )
    assert (alert is not None) == fires
    if alert:
        assert (alert.value, alert.threshold, alert.unit) == (value, D(8), "%")
        assert "status page" in alert.message


def _hist(values: list[float]) -> tuple[int, ...]:
    idx = bucket_index(values, LATENCY_EDGES_MS)
    return tuple(np.bincount(idx, minlength=len(LATENCY_EDGES_MS)).tolist())


def test_latency_p95_above_sla() -> None:
    # 90 fast calls at 800 ms, 10 slow at 9000 ms -> the P95 lies among the slow ones
    metrics = WindowMetrics(100, 0, 0, _hist([800.0] * 90 + [9000.0] * 10))
    alert = latency_alert(metrics, LatencyRule(sla_ms=5000), "model:gpt-4o", "2026-03-15")
    assert alert is not None and alert.threshold == D(5000) and alert.unit == "ms"
    assert abs(alert.value - 9000) / 9000 < D("0.1")  # buckets are ~10 % wide
    assert latency_alert(metrics, LatencyRule(sla_ms=12000), "all", "p") is None


def test_latency_needs_min_requests() -> None:
    metrics = WindowMetrics(5, 0, 0, _hist([9000.0] * 5))
    assert latency_alert(metrics, LatencyRule(), "all", "p") is None


def test_rate_limit_by_count_and_by_rate() -> None:
    by_count = rate_limit_alert(WindowMetrics(10_000, 51, 51), RateLimitRule(), "all", "p")
    assert by_count is not None and (by_count.value, by_count.threshold) == (D(51), D(50))
    # 6 of 100 = 6 % > 5 %
    by_rate = rate_limit_alert(WindowMetrics(100, 6, 6), RateLimitRule(), "all", "p")
    assert by_rate is not None and (by_rate.value, by_rate.threshold, by_rate.unit) == (
        D("6.00"),
        D(5),
        "%",
    )
    assert rate_limit_alert(WindowMetrics(100, 5, 5), RateLimitRule(), "all", "p") is None
    assert "backoff" in by_rate.message


def test_spike_limit_factor_dominates() -> None:
    # 7 days at 10, 7 at 12: median 11, MAD 1 -> max(11 + 3 × 1.4826 × 1, 2 × 11) = 22
    assert spike_limit([D(10)] * 7 + [D(12)] * 7, SpikeRule()) == D(22)


def test_spike_limit_mad_dominates() -> None:
    # alternating 10 / 20: median 15, MAD 5 -> max(15 + 3 × 1.4826 × 5, 30) = 37.239
    assert spike_limit([D(10), D(20)] * 7, SpikeRule()) == D("37.2390")


def _baseline(day: date) -> dict[date, Decimal]:
    return {day - timedelta(days=i): (D(10) if i % 2 else D(12)) for i in range(1, 15)}


@pytest.mark.parametrize(("spend", "fires"), [(D(23), True), (D(22), False), (D(21), False)])
def test_cost_spike(spend: Decimal, fires: bool) -> None:
    daily = _baseline(TODAY) | {TODAY: spend}
    alert = cost_spike_alert(daily, TODAY, SpikeRule(), "all")
    assert (alert is not None) == fires
    if alert:
        assert (alert.value, alert.threshold, alert.period) == (
            D("23.00"),
            D("22.00"),
            "2026-03-15",
        )


def test_cost_spike_needs_a_baseline_week() -> None:
    daily = {TODAY - timedelta(days=i): D(1) for i in range(1, 6)} | {TODAY: D(500)}
    assert cost_spike_alert(daily, TODAY, SpikeRule(), "all") is None


def test_cost_spike_ignores_tiny_amounts() -> None:
    daily = {TODAY - timedelta(days=i): D("0.01") for i in range(1, 15)} | {TODAY: D("0.50")}
    assert cost_spike_alert(daily, TODAY, SpikeRule(), "all") is None


def test_rule_params_round_trip() -> None:
    rule = ErrorRateRule(max_error_pct=D("2.5"), window_minutes=15, min_requests=40)
    assert rule_from_params("error_rate", rule_params(rule)) == rule
    assert rule_from_params("latency_p95", {"sla_ms": "2500", "junk": 1}) == LatencyRule(
        sla_ms=2500
    )


def test_group_budget_alerts_shows_the_highest_threshold() -> None:
    from core.alerts import group_budget_alerts

    alerts = budget_alerts("Team", "all", _status(D(100)), "2026-03")  # 50, 75, 90, 100
    spike = cost_spike_alert(_baseline(TODAY) | {TODAY: D(30)}, TODAY, SpikeRule(), "all")
    grouped = group_budget_alerts([*alerts, spike])
    assert [(shown.threshold, len(covered)) for shown, covered in grouped] == [
        (D(100), 4),
        (D("22.00"), 1),
    ]


@pytest.mark.parametrize(
    ("text", "kind", "value", "shown"),
    [
        (None, "all", "", "all"),
        ("  ", "all", "", "all"),
        ("Project: search ", "project", "search", "project:search"),
        ("model:openai/gpt-4o", "model", "openai/gpt-4o", "model:openai/gpt-4o"),
        ("tag:chat", "tag", "chat", "tag:chat"),
        ("provider:anthropic", "provider", "anthropic", "provider:anthropic"),
    ],
)
def test_parse_scope(text: str | None, kind: str, value: str, shown: str) -> None:
    scope = parse_scope(text)
    assert (scope.kind, scope.value, str(scope)) == (kind, value, shown)


@pytest.mark.parametrize(
    ("text", "match"),
    [("squad:x", "is not one of"), ("project:", "is not one of"), ("project:a\tb", "control")],
)
def test_bad_scopes_say_why(text: str, match: str) -> None:
    with pytest.raises(ScopeError, match=match):
        parse_scope(text)


def test_a_model_scope_matches_the_canonical_id() -> None:
    book = PriceBook.from_snapshot()
    for name in ("gpt-4o", "gpt-4o-2024-08-06", "openai/gpt-4o", "GPT-4o"):
        scope = canonical_scope(parse_scope(f"model:{name}"), book)
        assert (str(scope), scope.column) == ("model:gpt-4o", "model_id")
    assert canonical_scope(parse_scope("model:acme-1"), book) == Scope("model", "acme-1")
    assert canonical_scope(parse_scope("tag:chat"), book).column == "tags"
    assert canonical_scope(parse_scope("feature:chat"), book).column == "feature"
    assert parse_scope("all").column is None


def test_line_breaks_of_every_kind_are_control_characters() -> None:
    for text in ("a\nb", "a\rb", "a\tb", "a\x00b", "a\u2028b", "a\u2029b", "a\x85b"):
        assert has_control_characters(text)
    assert not has_control_characters("Team · search (EU)")


# ---------------------------------------------------------------- windows of a period


def test_a_window_under_the_minimum_volume_is_not_judged() -> None:
    # 10 of 31 requests rate-limited is 32.26 %, far over 2 %, but 31 < 100 requests: noise
    tiny = WindowMetrics(31, 10, 10)
    assert rate_limit_alert(tiny, RateLimitRule(), "all", "p") is None
    assert error_rate_alert(tiny, ErrorRateRule(), "all", "p") is None
    # the same share of 100 requests is judged: 33 of 100 = 33.00 %
    alert = rate_limit_alert(WindowMetrics(100, 33, 33), RateLimitRule(), "all", "p")
    assert alert is not None and (alert.value, alert.unit) == (D("33.00"), "%")
    assert has_volume(WindowMetrics(100, 0, 0), ErrorRateRule())
    assert not has_volume(WindowMetrics(99, 0, 0), LatencyRule())


def test_counts_in_messages_read_as_words() -> None:
    rule = RateLimitRule(max_pct=D(0), min_requests=1)
    one = rate_limit_alert(WindowMetrics(1, 1, 1), rule, "all", "p")
    assert one is not None and one.message.startswith("1 request of 1 (100.00 %)")
    failing = error_rate_alert(WindowMetrics(1, 1, 0), ErrorRateRule(min_requests=1), "all", "p")
    assert failing is not None and failing.message.startswith("100.00 % of 1 request failed")
    assert "1 requests" not in one.message + failing.message


def test_each_window_of_a_series_fires_under_its_own_period() -> None:
    two_pm = datetime(2026, 11, 2, 14, tzinfo=UTC)
    windows = [
        WindowMetrics(200, 2, 0, start=two_pm - timedelta(hours=1)),  # 1.00 %: quiet
        WindowMetrics(200, 30, 24, start=two_pm),  # 15.00 % errors > 8 %, 12.00 % 429s > 5 %
        WindowMetrics(40, 40, 40, start=two_pm + timedelta(hours=1)),  # too few requests
    ]
    (error,) = window_alerts("error_rate", windows, ErrorRateRule(), "all")
    assert (error.period, error.value) == ("2026-11-02T14:00Z", D("15.00"))
    assert "in the 60 min from 2026-11-02 14:00 UTC" in error.message
    (limited,) = window_alerts("rate_limit", windows, RateLimitRule(), "all")
    assert (limited.period, limited.value) == ("2026-11-02T14:00Z", D("12.00"))


def test_every_spike_day_of_a_period_fires() -> None:
    # $10 a day Mar 1..20, but Mar 12 and Mar 18 cost $50: both are spikes (limit 2 × 10 = 20)
    daily = _flat(D(10), date(2026, 3, 1), date(2026, 3, 20))
    daily |= {date(2026, 3, 12): D(50), date(2026, 3, 18): D(50)}
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(20)]
    alerts = spike_alerts(daily, days, SpikeRule(), "all")
    assert [(a.period, a.value, a.threshold) for a in alerts] == [
        ("2026-03-12", D("50.00"), D("20.00")),
        ("2026-03-18", D("50.00"), D("20.00")),  # Mar 4..17: median 10, MAD 0 -> 20
    ]


def test_advice_points_at_views_that_exist() -> None:
    spike = cost_spike_alert(_baseline(TODAY) | {TODAY: D(30)}, TODAY, SpikeRule(), "all")
    errors = error_rate_alert(WindowMetrics(100, 50, 0), ErrorRateRule(), "all", "p")
    texts = spike.message + errors.message
    assert "Logs page" not in texts and "Usage page (Requests" in texts
