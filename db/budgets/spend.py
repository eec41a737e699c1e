"""Spend and traffic of a scope: what budgets and operational rules are evaluated on.

Budget months follow the budget's timezone (which month is current, days left, the event
period). Spend is read from the daily rollups, whose days are UTC calendar days: a day's spend
counts in the month of its date. Operational rules ("last N minutes") read `request_log` rows in
the window directly (indexed on `ts`), so they work below daily granularity.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine, case, func, select

from core.alerts import WindowMetrics
from core.costs import picos_to_usd
from core.forecast import LOOKBACK_DAYS, BudgetStatus, budget_status, month_bounds
from core.stats import LATENCY_EDGES_MS, bucket_index
from db.budgets.clock import as_utc, local_today
from db.budgets.crud import Budget
from db.budgets.scopes import scope_clause, scope_note
from db.models import DailyRollup, RequestLog
from db.prices import load_price_book


def daily_spend(engine: Engine, scope: str, start: date, end: date) -> dict[date, Decimal]:
    """Spend per rollup day (USD, exact) for `scope`, days `start`..`end` inclusive."""
    table = DailyRollup.__table__
    stmt = select(table.c.day, func.sum(table.c.cost_pusd)).where(
        table.c.day >= start, table.c.day <= end
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


def window_metrics(engine: Engine, scope: str, start: datetime, end: datetime) -> WindowMetrics:
    """Requests, errors (status >= 400), 429s and a latency histogram for `start` <= ts < `end`."""
    table = RequestLog.__table__
    where = [table.c.ts >= as_utc(start), table.c.ts < as_utc(end)]
    clause = scope_clause(engine, table, scope)
    if clause is not None:
        where.append(clause)
    counts = select(
        func.count(),
        func.sum(case((table.c.status >= 400, 1), else_=0)),
        func.sum(case((table.c.status == 429, 1), else_=0)),
    ).where(*where)
    latency = select(table.c.latency_ms).where(*where, table.c.latency_ms.is_not(None))
    with engine.connect() as conn:
        requests, errors, limited = conn.execute(counts).one()
        values = np.fromiter((v for (v,) in conn.execute(latency)), dtype=float)
    hist = np.bincount(bucket_index(values, LATENCY_EDGES_MS), minlength=len(LATENCY_EDGES_MS))
    return WindowMetrics(
        int(requests or 0), int(errors or 0), int(limited or 0), tuple(hist.tolist())
    )


def budget_period(budget: Budget, as_of: datetime) -> str:
    """The budget's month at `as_of` in its timezone, as 'YYYY-MM'."""
    return local_today(budget.timezone, as_of).strftime("%Y-%m")


def budget_overview(engine: Engine, budget: Budget, as_of: datetime) -> BudgetStatus:
    """Spend to date, forecast and threshold crossings of `budget` at `as_of`."""
    today = local_today(budget.timezone, as_of)
    start = min(month_bounds(today)[0], today - timedelta(days=LOOKBACK_DAYS))
    daily = daily_spend(engine, budget.scope, start, today)
    return budget_status(daily, today, budget.amount_usd, budget.thresholds_pct)


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
