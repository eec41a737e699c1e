"""Alert rules: what fires, its value and threshold, and the once-per-period identity."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from core.alerts import (
    ErrorRateRule,
    LatencyRule,
    RateLimitRule,
    Scope,
    ScopeError,
    SpikeRule,
    WindowMetrics,
    budget_alerts,
    canonical_scope,
    cost_spike_alert,
    error_rate_alert,
    forecast_alert,
    has_control_characters,
    latency_alert,
    parse_scope,
    rate_limit_alert,
    rule_from_params,
    rule_params,
    spike_limit,
)
from core.forecast import budget_status
from core.pricing import PriceBook
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
        (100, 6, True, D("6.00")),
        (100, 5, False, None),
        (10, 5, False, None),
        (200, 11, True, D("5.50")),
    ],
)
def test_error_rate(requests: int, errors: int, fires: bool, value: Decimal | None) -> None:
    alert = error_rate_alert(
        WindowMetrics(requests, errors, 0), ErrorRateRule(), "all", "2026-03-15"
    )
    assert (alert is not None) == fires
    if alert:
        assert (alert.value, alert.threshold, alert.unit) == (value, D(5), "%")
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
    # 3 of 100 = 3 % > 2 %
    by_rate = rate_limit_alert(WindowMetrics(100, 3, 3), RateLimitRule(), "all", "p")
    assert by_rate is not None and (by_rate.value, by_rate.threshold, by_rate.unit) == (
        D("3.00"),
        D(2),
        "%",
    )
    assert rate_limit_alert(WindowMetrics(100, 2, 2), RateLimitRule(), "all", "p") is None
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
    [("team:x", "is not one of"), ("project:", "is not one of"), ("project:a\tb", "control")],
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
    assert canonical_scope(parse_scope("tag:chat"), book).column == "feature"
    assert parse_scope("all").column is None


def test_line_breaks_of_every_kind_are_control_characters() -> None:
    for text in ("a\nb", "a\rb", "a\tb", "a\x00b", "a\u2028b", "a\u2029b", "a\x85b"):
        assert has_control_characters(text)
    assert not has_control_characters("Team · search (EU)")
