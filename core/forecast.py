"""Month-end spend forecast: run rate with the weekday pattern of recent weeks, and an interval.

Method (also shown on the page): each remaining day of the month is predicted as the median
spend of the same weekday over the last four complete weeks (with fewer than 14 days of history,
the median day), so one spike day moves no forecast. The interval adds ±1.645 robust standard
deviations (the scaled median absolute deviation, `core.stats.scaled_mad`) of the daily
residuals, grown for the number of days still open (today counts: its logs may still be
arriving) and for the uncertainty of the rate itself (a 90 % interval).
Money stays `Decimal`; dates are the calendar days of the budget's month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core.currency import Conversion
from core.periods import month_end
from core.stats import median, scaled_mad

LOOKBACK_DAYS = 28
MIN_DAYS_FOR_PATTERN = 14
Z_90 = Decimal("1.645")
CENT = Decimal("0.01")
ZERO = Decimal(0)

METHOD = (
    "Each remaining day is forecast as the median spend of the same weekday over the last four "
    "complete weeks (the median day with under two weeks of history), so a one-off spike does "
    "not inflate the forecast; the band is a 90 % interval from how much past days strayed from "
    "that pattern, and it stays open until the month's last day is over."
)


@dataclass(frozen=True)
class DailyModel:
    """What recent weeks say about a future day: a mean per weekday and the daily spread."""

    weekday_usd: tuple[Decimal, ...]  # Monday..Sunday expected spend
    residual_sd_usd: Decimal  # robust: the scaled MAD of the residuals
    history_days: int
    weekly_pattern: bool

    def expected_usd(self, day: date) -> Decimal:
        """Expected spend on `day`."""
        return self.weekday_usd[day.weekday()]


@dataclass(frozen=True)
class Forecast:
    """Actual spend to date and the month-end projection with its interval."""

    month_start: date
    month_end: date
    today: date
    actual_usd: Decimal
    forecast_usd: Decimal
    low_usd: Decimal
    high_usd: Decimal
    model: DailyModel
    actual_by_day: dict[date, Decimal] = field(default_factory=dict)
    expected_by_day: dict[date, Decimal] = field(default_factory=dict)

    @property
    def days_left(self) -> int:
        """Days of the month still to come, today included."""
        return (self.month_end - self.today).days + 1

    def cumulative(self) -> list[tuple[date, Decimal, bool]]:
        """(day, cumulative spend, is_forecast) from the first of the month to its last day."""
        out: list[tuple[date, Decimal, bool]] = []
        total = ZERO
        day = self.month_start
        while day <= self.month_end:
            total += self.actual_by_day.get(day, ZERO) + self.expected_by_day.get(day, ZERO)
            out.append((day, total, day > self.today))
            day += timedelta(days=1)
        return out


@dataclass(frozen=True)
class PathPoint:
    """One day of the month on the cumulative path: expected, and the 90 % band around it."""

    day: date
    cumulative_usd: Decimal
    low_usd: Decimal
    high_usd: Decimal
    is_forecast: bool


def forecast_path(forecast: Forecast) -> list[PathPoint]:
    """Cumulative spend per day of the month; from today on, a band growing with distance."""
    out = []
    for day, total, future in forecast.cumulative():
        open_days = (day - forecast.today).days + 1
        spread = band_spread(forecast.model, max(open_days, 0))
        low = max(total - spread, forecast.actual_usd) if open_days > 0 else total
        out.append(PathPoint(day, _cents(total), _cents(low), _cents(total + spread), future))
    return out


def band_spread(model: DailyModel, open_days: int) -> Decimal:
    """Half-width of the 90 % band after `open_days` uncertain days (today counts as one).

    Daily errors add up (variance k x sd²) and the rate itself is uncertain from n days of
    history (k² x sd² / n).
    """
    if open_days <= 0:
        return ZERO
    k, n = Decimal(open_days), Decimal(max(model.history_days, 1))
    return Z_90 * model.residual_sd_usd * (k + k * k / n).sqrt()


def month_bounds(day: date) -> tuple[date, date]:
    """First and last calendar day of the month containing `day`."""
    return day.replace(day=1), month_end(day)


def _history(daily_usd: Mapping[date, Decimal], today: date) -> list[tuple[date, Decimal]]:
    """Complete days before `today` within the lookback, from the first day with any data."""
    known = [d for d in daily_usd if d < today]
    if not known:
        return []
    start = max(min(known), today - timedelta(days=LOOKBACK_DAYS))
    days = [start + timedelta(days=i) for i in range((today - start).days)]
    return [(d, Decimal(daily_usd.get(d, ZERO))) for d in days]


def fit_daily_model(daily_usd: Mapping[date, Decimal], today: date) -> DailyModel:
    """Median spend per weekday and the robust residual spread from complete days before `today`."""
    history = _history(daily_usd, today)
    overall = median([v for _, v in history])
    pattern = len(history) >= MIN_DAYS_FOR_PATTERN
    weekday = [overall] * 7
    if pattern:
        for wd in range(7):
            weekday[wd] = median([v for d, v in history if d.weekday() == wd])
    residuals = [v - weekday[d.weekday()] for d, v in history]
    sd = scaled_mad(residuals) if len(residuals) >= 2 else ZERO
    return DailyModel(tuple(weekday), sd, len(history), pattern)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def forecast_month(daily_usd: Mapping[date, Decimal], today: date) -> Forecast:
    """Month-end forecast for the month containing `today` (today's spend may be partial)."""
    start, end = month_bounds(today)
    model = fit_daily_model(daily_usd, today)
    actual_by_day = {d: Decimal(v) for d, v in daily_usd.items() if start <= d <= today}
    actual = sum(actual_by_day.values(), ZERO)
    # Today is still running: it ends at no less than what is spent and no less than expected.
    expected = {today: max(ZERO, model.expected_usd(today) - actual_by_day.get(today, ZERO))}
    day = today + timedelta(days=1)
    while day <= end:
        expected[day] = model.expected_usd(day)
        day += timedelta(days=1)
    remaining = sum(expected.values(), ZERO)
    spread = band_spread(model, len(expected))  # today and every day after it
    total = actual + remaining
    return Forecast(
        month_start=start,
        month_end=end,
        today=today,
        actual_usd=actual,
        forecast_usd=_cents(total),
        low_usd=_cents(max(total - spread, actual)),
        high_usd=_cents(total + spread),
        model=model,
        actual_by_day=actual_by_day,
        expected_by_day={d: v for d, v in expected.items() if d > today or v > 0},
    )


def crossing_dates(
    forecast: Forecast, amounts_usd: Mapping[int, Decimal]
) -> dict[int, date | None]:
    """The day each amount is (or is projected to be) reached this month; None if not this month."""
    out: dict[int, date | None] = {}
    path = forecast.cumulative()
    for key, amount in amounts_usd.items():
        out[key] = next((d for d, total, _ in path if total >= amount and total > 0), None)
    return out


@dataclass(frozen=True)
class BudgetStatus:
    """Where one budget stands this month: spend, share used, thresholds reached and projected.

    Figures are USD; a budget set in another currency has its amount converted to USD at
    `conversion` (its currency's rate on the evaluation day), and messages show it in that one.
    """

    amount_usd: Decimal
    thresholds_pct: tuple[int, ...]
    forecast: Forecast
    crossings: dict[int, date | None]
    conversion: Conversion = field(default_factory=Conversion)

    @property
    def spent_usd(self) -> Decimal:
        """Spend so far this month."""
        return self.forecast.actual_usd

    @property
    def used_pct(self) -> Decimal:
        """Spend as a percent of the budget, to two decimals."""
        if self.amount_usd <= 0:
            return ZERO
        return _cents(self.spent_usd * 100 / self.amount_usd)

    @property
    def forecast_pct(self) -> Decimal:
        """Month-end forecast as a percent of the budget, to two decimals."""
        if self.amount_usd <= 0:
            return ZERO
        return _cents(self.forecast.forecast_usd * 100 / self.amount_usd)

    @property
    def reached(self) -> tuple[int, ...]:
        """Thresholds (percent) already reached by actual spend."""
        return tuple(t for t in self.thresholds_pct if self.used_pct >= t)

    @property
    def highest_reached(self) -> int | None:
        """The highest threshold reached, or None."""
        return max(self.reached) if self.reached else None


def budget_status(
    daily_usd: Mapping[date, Decimal],
    today: date,
    amount_usd: Decimal,
    thresholds_pct: tuple[int, ...],
    conversion: Conversion | None = None,
) -> BudgetStatus:
    """Spend, forecast and threshold crossing dates of a monthly budget as of `today` (an
    amount in another currency comes already converted, with the `conversion` it used)."""
    fc = forecast_month(daily_usd, today)
    amounts = {t: amount_usd * t / 100 for t in thresholds_pct}
    crossings = crossing_dates(fc, amounts)
    return BudgetStatus(
        amount_usd, tuple(sorted(thresholds_pct)), fc, crossings, conversion or Conversion()
    )
