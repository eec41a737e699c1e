"""Spend and traffic of a scope: what budgets and operational rules are evaluated on.

Budget months follow the budget's timezone (which month is current, days left, the event
period). Spend is read from the daily rollups, whose days are UTC calendar days: a day's spend
counts in the month of its date. Operational rules on all traffic whose windows are whole
hours read the hourly rollup (`traffic_hourly`); other rules read `request_log` rows in their
windows (indexed on `ts`), grouped in SQL by window and latency bucket (`latency_bucket`, an
index into `core.stats.LATENCY_EDGES_MS`), so they work below an hour and on any scope.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import BigInteger, Engine, case, cast, func, literal, select

from core.alerts import HOUR, RUNAWAY_DIMENSIONS, WindowMetrics
from core.costs import picos_to_usd
from core.currency import BASE, Conversion, CurrencyError
from core.forecast import LOOKBACK_DAYS, BudgetStatus, budget_status, month_bounds
from core.scopes import parse_scope
from core.stats import LATENCY_EDGES_MS
from db.budgets.clock import as_utc, local_today
from db.budgets.crud import Budget
from db.budgets.scopes import scope_clause, scope_note, scope_table
from db.budgets.validation import BudgetError
from db.fx import conversion
from db.models import (
    DailyRollup,
    FeatureDaily,
    ModelDaily,
    RequestLog,
    TrafficHourly,
    UsageDaily,
)
from db.prices import load_price_book

# The rollups a scope's spend is read from, smallest first (on a realistic log the model rollup
# has ~70x fewer rows than the daily rollup, the usage rollup ~10x, the feature rollup ~5x); the
# first holding the scope's column answers (a tag scope needs the daily rollup).
SPEND_ROLLUPS = (
    ModelDaily.__table__,
    UsageDaily.__table__,
    FeatureDaily.__table__,
    DailyRollup.__table__,
)
# Hours from 0001-01-01 (the first ordinal day) to 1970-01-01: stored days count hours from 1970.
EPOCH_HOURS = date(1970, 1, 1).toordinal() * 24


def daily_spend(engine: Engine, scope: str, start: date, end: date) -> dict[date, Decimal]:
    """Spend per rollup day (USD, exact) for `scope`, days `start`..`end` inclusive (a user's
    from the stored rows of those days, the rest from the smallest rollup holding the scope's
    column: `SPEND_ROLLUPS`)."""
    table = scope_table(scope, SPEND_ROLLUPS, RequestLog.__table__)
    stmt = select(table.c.day, func.sum(table.c.cost_pusd)).where(
        table.c.day >= start, table.c.day <= end
    )
    if table is RequestLog.__table__:  # bound by `ts` too, so its index limits the scan
        stmt = stmt.where(
            table.c.ts >= datetime.combine(start, time.min, UTC),
            table.c.ts < datetime.combine(end + timedelta(days=1), time.min, UTC),
        )
    clause = scope_clause(engine, table, scope)
    if clause is not None:
        stmt = stmt.where(clause)
    with engine.connect() as conn:
        rows = conn.execute(stmt.group_by(table.c.day)).all()
    return {_as_date(d): picos_to_usd(int(total or 0)) for d, total in rows}


def _as_date(value: Any) -> date:
    """A date from a DATE column (SQLite may hand back its ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _epoch_seconds(engine: Engine, ts: Any) -> Any:
    """Seconds since 1970 of a stored instant, as SQL (SQLite keeps UTC text, PostgreSQL
    timestamptz)."""
    if engine.dialect.name == "sqlite":
        return cast(func.strftime("%s", ts), BigInteger)
    return cast(func.floor(func.extract("epoch", ts)), BigInteger)


def _window_counts(
    engine: Engine, scope: str, start: datetime, end: datetime, minutes: int | None
) -> list[tuple[int, int | None, int, int, int]]:
    """(window index, latency bucket, requests, errors, 429s) for `start` <= ts < `end`; the
    window index counts `minutes`-long windows from 1970 (0 for one window over the range)."""
    table = RequestLog.__table__
    where = [table.c.ts >= as_utc(start), table.c.ts < as_utc(end)]
    clause = scope_clause(engine, table, scope)
    if clause is not None:
        where.append(clause)
    window = literal(0)
    if minutes:
        seconds = minutes * 60
        window = _epoch_seconds(engine, table.c.ts) // seconds
    window = window.label("window")
    stmt = (
        select(
            window,
            table.c.latency_bucket,
            func.count(),
            func.sum(case((table.c.status >= 400, 1), else_=0)),
            func.sum(case((table.c.status == 429, 1), else_=0)),
        )
        .where(*where)
        .group_by(window, table.c.latency_bucket)
    )
    with engine.connect() as conn:
        return [
            (int(w), b, int(n), int(e or 0), int(r or 0)) for w, b, n, e, r in conn.execute(stmt)
        ]


def member_spend(
    engine: Engine, scope: str, dimension: str, start: datetime, end: datetime, hours: int
) -> dict[datetime, dict[str, Decimal]]:
    """Per `hours`-long window (aligned to the clock, UTC) with traffic between `start` and
    `end`: each member's spend (USD, exact), members being the values of a runaway rule's
    dimension (`core.alerts.RUNAWAY_DIMENSIONS`). One grouped query over the stored rows."""
    table = RequestLog.__table__
    member = table.c[RUNAWAY_DIMENSIONS[dimension]]
    seconds = hours * 3600
    window = (_epoch_seconds(engine, table.c.ts) // seconds).label("window")
    where = [table.c.ts >= as_utc(start), table.c.ts < as_utc(end)]
    clause = scope_clause(engine, table, scope)
    if clause is not None:
        where.append(clause)
    stmt = (
        select(window, member, func.sum(table.c.cost_pusd)).where(*where).group_by(window, member)
    )
    out: dict[datetime, dict[str, Decimal]] = {}
    with engine.connect() as conn:
        for index, name, picos in conn.execute(stmt):
            moment = datetime.fromtimestamp(int(index) * seconds, UTC)
            out.setdefault(moment, {})[str(name or "")] = picos_to_usd(int(picos or 0))
    return out


def _metrics(rows: list[tuple], start: datetime | None) -> WindowMetrics:
    """One window's metrics from its (window, bucket, requests, errors, 429s) rows."""
    hist = np.zeros(len(LATENCY_EDGES_MS), dtype=np.int64)
    for _, bucket, n, _, _ in rows:
        if bucket is not None:
            hist[min(int(bucket), len(hist) - 1)] += n
    return WindowMetrics(
        sum(r[2] for r in rows),
        sum(r[3] for r in rows),
        sum(r[4] for r in rows),
        tuple(hist.tolist()),
        start,
    )


def window_metrics(engine: Engine, scope: str, start: datetime, end: datetime) -> WindowMetrics:
    """Requests, errors (status >= 400), 429s and a latency histogram for `start` <= ts < `end`."""
    return _metrics(_window_counts(engine, scope, start, end, None), None)


def _hourly_counts(
    engine: Engine, start: datetime, end: datetime, minutes: int
) -> list[tuple[int, int | None, int, int, int]]:
    """`_window_counts` of all traffic over the whole hours `start` <= hour < `end`, read from
    the hourly rollup (`minutes` a multiple of 60, so each hour lies in one window)."""
    table = TrafficHourly.__table__
    stmt = select(
        table.c.day,
        table.c.hour,
        table.c.latency_bucket,
        table.c.requests,
        table.c.errors,
        table.c.rate_limited,
    ).where(table.c.day >= start.date(), table.c.day <= (end - HOUR).date())
    first, last = int(start.timestamp()) // 3600, int(end.timestamp()) // 3600
    out = []
    with engine.connect() as conn:
        for day, hour, bucket, n, errors, limited in conn.execute(stmt):
            index = _as_date(day).toordinal() * 24 + hour - EPOCH_HOURS
            if first <= index < last:
                out.append(
                    (index * 60 // minutes, None if bucket < 0 else bucket, n, errors, limited)
                )
    return out


def _on_the_hour(moment: datetime, up: bool) -> datetime:
    """`moment` rounded down (or up) to a whole UTC hour."""
    floor = as_utc(moment).replace(minute=0, second=0, microsecond=0)
    return floor + HOUR if up and floor != as_utc(moment) else floor


def window_series(
    engine: Engine, scope: str, start: datetime, end: datetime, minutes: int
) -> list[WindowMetrics]:
    """The metrics of every `minutes`-long window (aligned to the clock, UTC) with traffic
    between `start` and `end`; each carries its start. Windows of whole hours over all traffic
    read the hourly rollup for the whole hours in between (pruned days included) and the
    request rows for the rest; any other scope or window reads the request rows, grouped."""
    first, last = _on_the_hour(start, up=True), _on_the_hour(end, up=False)
    if parse_scope(scope).kind == "all" and minutes % 60 == 0 and first < last:
        rows = _hourly_counts(engine, first, last, minutes)
        rows += _window_counts(engine, scope, start, first, minutes) if start < first else []
        rows += _window_counts(engine, scope, last, end, minutes) if last < end else []
    else:
        rows = _window_counts(engine, scope, start, end, minutes)
    by_window: dict[int, list[tuple]] = {}
    for row in rows:
        by_window.setdefault(row[0], []).append(row)
    seconds = minutes * 60
    return [
        _metrics(rows, datetime.fromtimestamp(index * seconds, UTC))
        for index, rows in sorted(by_window.items())
    ]


def budget_period(budget: Budget, as_of: datetime) -> str:
    """The budget's month at `as_of` in its timezone, as 'YYYY-MM'."""
    return local_today(budget.timezone, as_of).strftime("%Y-%m")


def budget_conversion(engine: Engine, budget: Budget, day: date) -> Conversion:
    """The rate of the budget's currency in force on `day`; BudgetError when none is recorded."""
    if budget.currency == BASE:
        return Conversion()
    try:
        return conversion(engine, day, budget.currency)
    except CurrencyError as exc:
        raise BudgetError(f"Budget {budget.name!r} is set in {budget.currency}: {exc}.") from exc


def budget_overview(engine: Engine, budget: Budget, as_of: datetime) -> BudgetStatus:
    """Spend to date, forecast and threshold crossings of `budget` at `as_of`.

    A budget in another currency is compared at that currency's rate on the budget's local
    day of `as_of` (its amount in USD at that rate); BudgetError when no rate is recorded.
    """
    today = local_today(budget.timezone, as_of)
    conv = budget_conversion(engine, budget, today)
    start = min(month_bounds(today)[0], today - timedelta(days=LOOKBACK_DAYS))
    daily = daily_spend(engine, budget.scope, start, today)
    return budget_status(daily, today, conv.usd(budget.amount), budget.thresholds_pct, conv)


def budget_notes(engine: Engine, budgets: list[Budget]) -> dict[int, str]:
    """Per budget id, a note when its scope has no stored traffic yet (a model before launch)."""
    book = load_price_book(engine)
    notes = {b.id: scope_note(engine, b.scope, book) for b in budgets}
    return {budget_id: note for budget_id, note in notes.items() if note}


def end_of_month(budget: Budget, as_of: datetime) -> datetime:
    """The instant the budget's current month ends (for 'mute until the month ends')."""
    _, last = month_bounds(local_today(budget.timezone, as_of))
    local_end = datetime.combine(
        last + timedelta(days=1), datetime.min.time(), ZoneInfo(budget.timezone)
    )
    return local_end.astimezone(UTC)
