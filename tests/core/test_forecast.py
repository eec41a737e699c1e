"""Month-end forecasts, intervals and threshold crossings against hand-computed figures."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.forecast import (
    budget_status,
    crossing_dates,
    fit_daily_model,
    forecast_month,
    month_bounds,
)

D = Decimal


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_month_bounds_handles_leap_years() -> None:
    assert month_bounds(date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert month_bounds(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_flat_run_rate_with_partial_today() -> None:
    # $10 every day from Feb 10 to Mar 14; today (Sun Mar 15) has $4 so far.
    daily = {d: D(10) for d in _days(date(2026, 2, 10), date(2026, 3, 14))}
    daily[date(2026, 3, 15)] = D(4)
    fc = forecast_month(daily, date(2026, 3, 15))
    # actual = 14 × 10 + 4 = 144; today ends at max(4, 10) -> +6; Mar 16..31 = 16 × 10 = 160
    assert fc.actual_usd == D(144)
    assert fc.forecast_usd == D("310.00")
    assert (fc.low_usd, fc.high_usd) == (D("310.00"), D("310.00"))  # no day strayed: no spread
    assert fc.days_left == 17
    assert fc.model.weekly_pattern is True and fc.model.history_days == 28


def test_weekday_pattern_of_recent_weeks() -> None:
    # Weekdays $10, weekends $4, Feb 16 (Mon) .. Mar 15 (Sun) = exactly four weeks.
    daily = {
        d: D(4) if d.weekday() >= 5 else D(10) for d in _days(date(2026, 2, 16), date(2026, 3, 15))
    }
    daily[date(2026, 3, 16)] = D(3)  # Monday, partial
    fc = forecast_month(daily, date(2026, 3, 16))
    # March so far: Sun 1st 4 + (2-6) 50 + (7-8) 8 + (9-13) 50 + (14-15) 8 = 120, today 3 -> 123
    # today ends at 10 (+7); Tue 17..Fri 20 40 + 8 + (23-27) 50 + 8 + Mon 30, Tue 31 20 = 126
    assert fc.actual_usd == D(123)
    assert fc.forecast_usd == D("256.00")
    assert fc.model.weekday_usd == (D(10),) * 5 + (D(4),) * 2
    assert fc.expected_by_day[date(2026, 3, 21)] == D(4)


def test_interval_from_residual_spread_without_weekly_pattern() -> None:
    # Four days of history (too few for a weekday pattern): 8, 12, 8, 12 -> mean 10.
    daily = {date(2026, 2, 1): D(8), date(2026, 2, 2): D(12), date(2026, 2, 3): D(8)}
    daily[date(2026, 2, 4)] = D(12)
    fc = forecast_month(daily, date(2026, 2, 5))  # nothing spent yet today
    # median day 10; total = 40 + today 10 + Feb 6..28 (23 days) × 10 = 280
    # residuals (-2, 2, -2, 2): median 0, MAD 2, robust sd = 1.4826 × 2 = 2.9652
    # k = 24 open days (today and 23 after it), n = 4 days of history:
    # spread = 1.645 × 2.9652 × sqrt(24 + 24² / 4) = 4.877754 × sqrt(168) = 63.22
    assert fc.model.weekly_pattern is False
    assert fc.model.residual_sd_usd == D("2.9652")
    assert fc.forecast_usd == D("280.00")
    assert fc.low_usd == D("216.78")
    assert fc.high_usd == D("343.22")


def test_low_bound_never_below_actual_spend() -> None:
    daily = {date(2026, 2, 1): D(0), date(2026, 2, 2): D(100), date(2026, 2, 3): D(50)}
    fc = forecast_month(daily, date(2026, 2, 4))
    assert fc.low_usd >= fc.actual_usd == D(150)


def test_no_history_forecasts_spend_so_far() -> None:
    fc = forecast_month({}, date(2026, 4, 10))
    assert fc.forecast_usd == D("0.00") and fc.actual_usd == 0
    assert crossing_dates(fc, {100: D(50)}) == {100: None}


def test_crossing_dates_past_projected_and_never() -> None:
    daily = {d: D(10) for d in _days(date(2026, 2, 10), date(2026, 3, 14))}
    fc = forecast_month(daily, date(2026, 3, 15))
    # cumulative: Mar 5 = 50 (already past), Mar 20 = 200 (projected), 400 never (31 × 10 = 310)
    got = crossing_dates(fc, {25: D(50), 50: D(200), 100: D(400)})
    assert got == {25: date(2026, 3, 5), 50: date(2026, 3, 20), 100: None}


@pytest.mark.parametrize(
    ("amount", "reached", "highest"),
    [(D(1000), (), None), (D(250), (50,), 50), (D(140), (50, 75, 90, 100), 100)],
)
def test_budget_status_thresholds(amount: Decimal, reached: tuple, highest: int | None) -> None:
    daily = {d: D(10) for d in _days(date(2026, 2, 10), date(2026, 3, 14))}
    status = budget_status(daily, date(2026, 3, 15), amount, (50, 75, 90, 100))
    # spent 140 (Mar 1..14); 140 / 250 = 56 %; forecast 310 (no spend yet today: +10)
    assert status.spent_usd == D(140)
    assert status.reached == reached
    assert status.highest_reached == highest
    assert status.forecast.forecast_usd == D("310.00")


def test_budget_status_percentages() -> None:
    daily = {d: D(10) for d in _days(date(2026, 2, 10), date(2026, 3, 14))}
    status = budget_status(daily, date(2026, 3, 15), D(250), (50, 75, 90, 100))
    assert status.used_pct == D("56.00")  # 140 / 250
    assert status.forecast_pct == D("124.00")  # 310 / 250
    # 75 % = 187.50 -> Mar 19 (190); 90 % = 225 -> Mar 23 (230); 100 % = 250 -> Mar 25
    assert status.crossings == {
        50: date(2026, 3, 13),
        75: date(2026, 3, 19),
        90: date(2026, 3, 23),
        100: date(2026, 3, 25),
    }


def test_fit_model_ignores_days_before_data_starts() -> None:
    model = fit_daily_model({date(2026, 3, 10): D(30), date(2026, 3, 11): D(10)}, date(2026, 3, 12))
    assert model.history_days == 2
    assert model.weekday_usd == (D(20),) * 7


def test_forecast_path_band_ends_at_the_interval() -> None:
    from core.forecast import forecast_path

    daily = {date(2026, 2, 1): D(8), date(2026, 2, 2): D(12), date(2026, 2, 3): D(8)}
    daily[date(2026, 2, 4)] = D(12)
    fc = forecast_month(daily, date(2026, 2, 5))
    path = forecast_path(fc)
    assert len(path) == 28 and path[3].cumulative_usd == D(40) and not path[3].is_forecast
    # today is still open: k = 1, spread = 4.877754 × sqrt(1 + 1 / 4) = 5.4535
    assert (path[4].low_usd, path[4].high_usd) == (D("44.55"), D("55.45"))
    last = path[-1]
    assert (last.cumulative_usd, last.low_usd, last.high_usd) == (
        fc.forecast_usd,
        fc.low_usd,
        fc.high_usd,
    )


def test_a_spike_day_does_not_double_the_next_forecast_for_its_weekday() -> None:
    # $10 a day for four complete weeks (Mon Feb 16 .. Sun Mar 15) but Mon Mar 9 cost $50.
    daily = {d: D(10) for d in _days(date(2026, 2, 16), date(2026, 3, 15))}
    daily[date(2026, 3, 9)] = D(50)
    fc = forecast_month(daily, date(2026, 3, 16))  # Monday, nothing spent yet
    # Mondays seen: 10, 10, 10, 50 -> median (10 + 10) / 2 = 10 (a mean would say 20)
    assert fc.model.weekday_usd[0] == D(10)
    assert fc.expected_by_day[date(2026, 3, 23)] == D(10)
    # March: 14 × 10 + 50 = 190 spent; today 10 + Mar 17..31 (15 days) × 10 = 160 -> 350
    assert fc.forecast_usd == D("350.00")
    # residuals: 27 zeros and one 40 -> MAD 0: the spike widens no band either
    assert (fc.low_usd, fc.high_usd) == (D("350.00"), D("350.00"))


def test_the_last_day_of_the_month_still_has_a_band() -> None:
    # Mar 3 .. Mar 30 alternating $8 / $12 (28 days: each weekday sees 8, 12, 8, 12)
    daily = {date(2026, 3, 3) + timedelta(days=i): D(8) if i % 2 == 0 else D(12) for i in range(28)}
    fc = forecast_month(daily, date(2026, 3, 31))  # the month's last day, nothing spent yet
    # spent 14 × 8 + 14 × 12 = 280; today expected at the weekday median 10 -> 290
    assert (fc.actual_usd, fc.forecast_usd, fc.days_left) == (D(280), D("290.00"), 1)
    # residuals ±2 -> robust sd 2.9652; k = 1 (today), n = 28:
    # spread = 1.645 × 2.9652 × sqrt(1 + 1 / 28) = 4.96 -> 285.04 .. 294.96
    assert (fc.low_usd, fc.high_usd) == (D("285.04"), D("294.96"))
