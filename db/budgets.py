"""Budgets, alert rules and alert events: tables, CRUD and the spend/traffic queries they need.

Budget months follow the budget's timezone (which month is current, days left, the event
period). Spend is read from the daily rollups, whose days are UTC calendar days: a day's spend
counts in the month of its date. Operational rules ("last N minutes") read `request_log` rows in
the window directly (indexed on `ts`), so they work below daily granularity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import BigInteger, Engine, Numeric, Text, UniqueConstraint, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel
from sqlmodel import select as sm_select

from core.alerts import RULE_TYPES, Alert, WindowMetrics, rule_from_params, rule_params
from core.costs import picos_to_usd
from core.forecast import LOOKBACK_DAYS, BudgetStatus, budget_status, month_bounds
from core.stats import LATENCY_EDGES_MS, bucket_index
from db.models import DailyRollup, RequestLog

PUSD_PER_USD = 10**12
DEFAULT_THRESHOLDS = (50, 75, 90, 100)
SCOPE_KINDS = ("project", "model", "tag", "feature", "provider")


class BudgetError(ValueError):
    """A budget, rule or event change that cannot be made, with a message for the user."""


# ---------------------------------------------------------------- tables


class BudgetBase(SQLModel):
    name: str
    amount_pusd: int = Field(default=0, sa_type=BigInteger)
    scope: str = "all"
    thresholds: str = "50,75,90,100"
    timezone: str = "UTC"
    forecast_alert: bool = True
    muted_until: datetime | None = None  # UTC
    created_at: datetime
    updated_at: datetime


class BudgetRow(BudgetBase, table=True):
    __tablename__ = "budget"
    __table_args__ = (UniqueConstraint("name", name="uq_budget_name"),)
    id: int | None = Field(default=None, primary_key=True)


class AlertRuleBase(SQLModel):
    kind: str
    scope: str = "all"
    enabled: bool = True
    params: str = Field(default="{}", sa_type=Text)
    muted_until: datetime | None = None
    updated_at: datetime


class AlertRuleRow(AlertRuleBase, table=True):
    __tablename__ = "alert_rule"
    __table_args__ = (UniqueConstraint("kind", "scope", name="uq_alert_rule"),)
    id: int | None = Field(default=None, primary_key=True)


class AlertEventBase(SQLModel):
    kind: str = Field(index=True)
    scope: str = "all"
    subject: str = ""
    key: str
    period: str
    value: Decimal = Field(sa_type=Numeric(24, 6))
    threshold: Decimal = Field(sa_type=Numeric(24, 6))
    unit: str = ""
    message: str = Field(default="", sa_type=Text)
    fired_at: datetime = Field(index=True)  # UTC: the check's as-of instant
    created_at: datetime
    acknowledged_at: datetime | None = None
    notified_at: datetime | None = None
    deliveries: str = Field(default="{}", sa_type=Text)  # {"slack": "sent" | "failed: ..."}


class AlertEventRow(AlertEventBase, table=True):
    __tablename__ = "alert_event"
    __table_args__ = (UniqueConstraint("key", "period", name="uq_alert_event_once"),)
    id: int | None = Field(default=None, primary_key=True)


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class Budget:
    """A monthly budget as the product uses it."""

    id: int
    name: str
    amount_usd: Decimal
    scope: str
    thresholds_pct: tuple[int, ...]
    timezone: str
    forecast_alert: bool
    muted_until: datetime | None


@dataclass(frozen=True)
class Rule:
    """An operational alert rule with its typed parameters."""

    id: int
    kind: str
    scope: str
    enabled: bool
    rule: Any
    muted_until: datetime | None


def as_utc(when: datetime) -> datetime:
    """An aware UTC datetime (how instants are stored); naive input is taken as UTC."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, aware UTC."""
    return datetime.now(UTC)


def _to_budget(row: BudgetRow) -> Budget:
    return Budget(
        id=row.id or 0,
        name=row.name,
        amount_usd=picos_to_usd(row.amount_pusd),
        scope=row.scope,
        thresholds_pct=parse_thresholds(row.thresholds),
        timezone=row.timezone,
        forecast_alert=row.forecast_alert,
        muted_until=row.muted_until,
    )


# ---------------------------------------------------------------- validation


def parse_thresholds(text: str | None) -> tuple[int, ...]:
    """'50,75,90,100' -> (50, 75, 90, 100); raises BudgetError on anything else."""
    if text is None or not str(text).strip():
        return DEFAULT_THRESHOLDS
    try:
        values = sorted(
            {int(part.strip().rstrip("%")) for part in str(text).split(",") if part.strip()}
        )
    except ValueError as exc:
        raise BudgetError(
            f"Thresholds must be whole percents like 50,75,90,100 (got {text!r})."
        ) from exc
    if not values or any(v <= 0 or v > 1000 for v in values):
        raise BudgetError("Each threshold must be a percent between 1 and 1000.")
    return tuple(values)


def parse_scope(scope: str | None) -> str:
    """'all', 'project:X', 'model:X', 'tag:X' (also feature:, provider:); raises BudgetError."""
    text = (scope or "all").strip()
    if text in ("", "all"):
        return "all"
    kind, sep, value = text.partition(":")
    if not sep or kind.strip().lower() not in SCOPE_KINDS or not value.strip():
        raise BudgetError(f"Scope {text!r} is not one of all, project:NAME, model:NAME, tag:NAME.")
    return f"{kind.strip().lower()}:{value.strip()}"


def parse_timezone(name: str | None) -> str:
    """A valid IANA timezone name (default UTC); raises BudgetError."""
    text = (name or "UTC").strip() or "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BudgetError(
            f"Unknown timezone {text!r}; use an IANA name like Europe/Berlin."
        ) from exc
    return text


def parse_amount(amount: Decimal | str | float | int) -> Decimal:
    """A positive USD amount with at most 2 decimals... or more; raises BudgetError."""
    try:
        value = Decimal(str(amount).strip().lstrip("$").replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise BudgetError(f"Amount {amount!r} is not a number of dollars.") from exc
    if not value.is_finite() or value <= 0:
        raise BudgetError("The budget amount must be above $0.")
    if value > Decimal(10) ** 9:
        raise BudgetError("The budget amount is above $1 billion; check for a typo.")
    return value


# ---------------------------------------------------------------- budget CRUD


def set_budget(
    engine: Engine,
    *,
    name: str,
    amount_usd: Decimal | str | float | int,
    scope: str = "all",
    thresholds: str | tuple[int, ...] | None = None,
    timezone: str = "UTC",
    forecast_alert: bool = True,
    budget_id: int | None = None,
) -> Budget:
    """Create or update a budget (by `budget_id`, else by name) after validating it."""
    name = (name or "").strip()
    if not name:
        raise BudgetError("A budget needs a name.")
    if isinstance(thresholds, tuple):
        thresholds = ",".join(str(t) for t in thresholds)
    values = {
        "name": name,
        "amount_pusd": int(parse_amount(amount_usd) * PUSD_PER_USD),
        "scope": parse_scope(scope),
        "thresholds": ",".join(str(t) for t in parse_thresholds(thresholds)),
        "timezone": parse_timezone(timezone),
        "forecast_alert": forecast_alert,
    }
    with Session(engine) as session:
        row = _find_budget(session, budget_id, name)
        clash = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if clash is not None and row is not None and clash.id != row.id:
            raise BudgetError(f"Another budget is already called {name!r}.")
        now = utcnow()
        row = row or BudgetRow(name=name, created_at=now, updated_at=now)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        session.add(row)
        session.commit()
        session.refresh(row)
        return _to_budget(row)


def _find_budget(session: Session, budget_id: int | None, name: str) -> BudgetRow | None:
    if budget_id is not None:
        row = session.get(BudgetRow, budget_id)
        if row is None:
            raise BudgetError(f"Budget #{budget_id} no longer exists.")
        return row
    return session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()


def list_budgets(engine: Engine) -> list[Budget]:
    """Every budget, by name."""
    with Session(engine) as session:
        return [_to_budget(r) for r in session.exec(sm_select(BudgetRow).order_by(BudgetRow.name))]


def get_budget(engine: Engine, name: str) -> Budget | None:
    """The budget called `name`, or None."""
    with Session(engine) as session:
        row = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        return _to_budget(row) if row else None


def delete_budget(engine: Engine, name: str) -> bool:
    """Delete the budget called `name` (its alert history stays); False when there was none."""
    with Session(engine) as session:
        row = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if row is None:
            return False
        session.delete(row)
        session.commit()
        return True


def mute_budget(engine: Engine, name: str, until: datetime | None) -> None:
    """Silence a budget's alerts until `until` (None unmutes)."""
    with Session(engine) as session:
        row = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if row is None:
            raise BudgetError(f"Budget {name!r} no longer exists.")
        row.muted_until = as_utc(until) if until else None
        session.add(row)
        session.commit()


# ---------------------------------------------------------------- rules


def ensure_default_rules(engine: Engine) -> None:
    """Store one rule per operational kind (scope all, defaults) when none exists yet."""
    with Session(engine) as session:
        existing = {r.kind for r in session.exec(sm_select(AlertRuleRow))}
        for kind, cls in RULE_TYPES.items():
            if kind not in existing:
                params = json.dumps(rule_params(cls()))
                session.add(AlertRuleRow(kind=kind, params=params, updated_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:  # another process stored the defaults first
            session.rollback()


def list_rules(engine: Engine) -> list[Rule]:
    """Every operational rule (defaults are created on first use)."""
    ensure_default_rules(engine)
    with Session(engine) as session:
        rows = session.exec(sm_select(AlertRuleRow).order_by(AlertRuleRow.kind, AlertRuleRow.scope))
        return [
            Rule(
                r.id or 0,
                r.kind,
                r.scope,
                r.enabled,
                rule_from_params(r.kind, json.loads(r.params)),
                r.muted_until,
            )
            for r in rows
        ]


def save_rule(
    engine: Engine, *, kind: str, params: dict[str, Any], enabled: bool = True, scope: str = "all"
) -> Rule:
    """Create or update the rule of `kind` for `scope` with new parameters."""
    if kind not in RULE_TYPES:
        raise BudgetError(f"Unknown rule {kind!r}.")
    try:
        rule = rule_from_params(kind, params)
    except (ValueError, InvalidOperation) as exc:
        raise BudgetError(f"A setting of the {kind} rule is not a number.") from exc
    for name, value in rule_params(rule).items():
        positive = name in ("window_minutes", "baseline_days", "sla_ms", "factor", "k")
        if Decimal(str(value)) < (1 if positive else 0):
            label = name.replace("_", " ")
            raise BudgetError(
                f"The {label} must be {'at least 1' if positive else 'zero or more'}."
            )
    scope = parse_scope(scope)
    with Session(engine) as session:
        stmt = sm_select(AlertRuleRow).where(AlertRuleRow.kind == kind, AlertRuleRow.scope == scope)
        row = session.exec(stmt).first() or AlertRuleRow(
            kind=kind, scope=scope, updated_at=utcnow()
        )
        row.params, row.enabled, row.updated_at = json.dumps(rule_params(rule)), enabled, utcnow()
        session.add(row)
        session.commit()
        session.refresh(row)
        return Rule(row.id or 0, kind, scope, enabled, rule, row.muted_until)


def mute_rule(engine: Engine, kind: str, scope: str, until: datetime | None) -> None:
    """Silence a rule's alerts until `until` (None unmutes)."""
    with Session(engine) as session:
        stmt = sm_select(AlertRuleRow).where(AlertRuleRow.kind == kind, AlertRuleRow.scope == scope)
        row = session.exec(stmt).first()
        if row is None:
            raise BudgetError(f"No {kind} rule for {scope}.")
        row.muted_until = as_utc(until) if until else None
        session.add(row)
        session.commit()


# ---------------------------------------------------------------- spend and traffic


def _scope_clause(table: Any, scope: str) -> Any:
    """The WHERE clause that restricts rollup or request rows to a scope (None for all)."""
    scope = parse_scope(scope)
    if scope == "all":
        return None
    kind, _, value = scope.partition(":")
    column = {"project": "project", "model": "model", "provider": "provider"}.get(kind, "feature")
    return getattr(table.c, column) == value


def daily_spend(engine: Engine, scope: str, start: date, end: date) -> dict[date, Decimal]:
    """Spend per rollup day (USD, exact) for `scope`, days `start`..`end` inclusive."""
    table = DailyRollup.__table__
    stmt = select(table.c.day, func.sum(table.c.cost_pusd)).where(
        table.c.day >= start, table.c.day <= end
    )
    clause = _scope_clause(table, scope)
    if clause is not None:
        stmt = stmt.where(clause)
    with engine.connect() as conn:
        rows = conn.execute(stmt.group_by(table.c.day)).all()
    return {_as_date(d): picos_to_usd(int(total or 0)) for d, total in rows}


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def window_metrics(engine: Engine, scope: str, start: datetime, end: datetime) -> WindowMetrics:
    """Requests, errors (status >= 400), 429s and a latency histogram for `start` <= ts < `end`."""
    table = RequestLog.__table__
    where = [table.c.ts >= as_utc(start), table.c.ts < as_utc(end)]
    clause = _scope_clause(table, scope)
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


def local_today(timezone: str, as_of: datetime) -> date:
    """The calendar day in `timezone` at the instant `as_of` (naive means UTC)."""
    return as_utc(as_of).astimezone(ZoneInfo(timezone)).date()


def budget_period(budget: Budget, as_of: datetime) -> str:
    """The budget's month at `as_of` in its timezone, as 'YYYY-MM'."""
    return local_today(budget.timezone, as_of).strftime("%Y-%m")


def budget_overview(engine: Engine, budget: Budget, as_of: datetime) -> BudgetStatus:
    """Spend to date, forecast and threshold crossings of `budget` at `as_of`."""
    today = local_today(budget.timezone, as_of)
    start = min(month_bounds(today)[0], today - timedelta(days=LOOKBACK_DAYS))
    daily = daily_spend(engine, budget.scope, start, today)
    return budget_status(daily, today, budget.amount_usd, budget.thresholds_pct)


# ---------------------------------------------------------------- events


def _insert_ignore(engine: Engine) -> Any:
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def record_events(engine: Engine, alerts: list[Alert], fired_at: datetime) -> list[int]:
    """Store each alert unless its (key, period) is already stored; returns the new event ids."""
    table = AlertEventRow.__table__
    insert = _insert_ignore(engine)
    new_ids: list[int] = []
    now = utcnow()
    with engine.begin() as conn:
        for a in alerts:
            row = {
                "kind": a.kind, "scope": a.scope, "subject": a.subject, "key": a.key,
                "period": a.period, "value": a.value, "threshold": a.threshold, "unit": a.unit,
                "message": a.message, "fired_at": as_utc(fired_at), "created_at": now,
                "deliveries": "{}",
            }  # fmt: skip
            stmt = insert(table).values(**row).on_conflict_do_nothing().returning(table.c.id)
            new_id = conn.execute(stmt).scalar()
            if new_id is not None:
                new_ids.append(int(new_id))
    return new_ids


def event_ids_for(engine: Engine, alerts: list[Alert]) -> dict[tuple[str, str], int]:
    """The stored event id of each (key, period) among `alerts`."""
    if not alerts:
        return {}
    table = AlertEventRow.__table__
    keys = {(a.key, a.period) for a in alerts}
    stmt = select(table.c.key, table.c.period, table.c.id).where(
        table.c.key.in_({k for k, _ in keys})
    )
    with engine.connect() as conn:
        return {(k, p): i for k, p, i in conn.execute(stmt) if (k, p) in keys}


def deliveries_of(engine: Engine, event_id: int) -> dict[str, str]:
    """Per channel: 'sent' or 'failed: reason' for one event."""
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        return json.loads(row.deliveries) if row else {}


def record_delivery(
    engine: Engine, event_id: int, channel: str, ok: bool, detail: str = ""
) -> None:
    """Remember how sending one event on one channel went (never a secret in `detail`)."""
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        if row is None:
            return
        status = json.loads(row.deliveries)
        status[channel] = "sent" if ok else f"failed: {detail}"[:300]
        row.deliveries = json.dumps(status)
        if ok and row.notified_at is None:
            row.notified_at = utcnow()
        session.add(row)
        session.commit()


def acknowledge_event(engine: Engine, event_id: int, at: datetime | None = None) -> bool:
    """Mark an event as seen; False when it does not exist."""
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        if row is None:
            return False
        row.acknowledged_at = as_utc(at) if at else utcnow()
        session.add(row)
        session.commit()
        return True


def list_events(
    engine: Engine,
    *,
    kinds: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    acknowledged: bool | None = None,
    limit: int = 500,
) -> list[AlertEventRow]:
    """Stored events, newest first, filtered."""
    stmt = sm_select(AlertEventRow)
    if kinds:
        stmt = stmt.where(AlertEventRow.kind.in_(kinds))
    if subjects:
        stmt = stmt.where(AlertEventRow.subject.in_(subjects))
    if since:
        stmt = stmt.where(AlertEventRow.fired_at >= as_utc(since))
    if until:
        stmt = stmt.where(AlertEventRow.fired_at < as_utc(until))
    if acknowledged is not None:
        col = AlertEventRow.acknowledged_at
        stmt = stmt.where(col.is_not(None) if acknowledged else col.is_(None))
    stmt = stmt.order_by(AlertEventRow.fired_at.desc(), AlertEventRow.id.desc()).limit(limit)
    with Session(engine) as session:
        rows = list(session.exec(stmt))
        for r in rows:
            session.expunge(r)
        return rows


def as_of_for(day: date, now: datetime | None = None) -> datetime:
    """The instant a page evaluates for a picked day: now for today (or later), else its end."""
    now = as_utc(now) if now else utcnow()
    if day >= now.date():
        return now
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) - timedelta(
        microseconds=1
    )


def end_of_month(budget: Budget, as_of: datetime) -> datetime:
    """The instant the budget's current month ends (for 'mute until the month ends')."""
    _, last = month_bounds(local_today(budget.timezone, as_of))
    local_end = datetime.combine(
        last + timedelta(days=1), datetime.min.time(), ZoneInfo(budget.timezone)
    )
    return local_end.astimezone(UTC)


def rule_params_of(rule: Rule) -> dict[str, Any]:
    """A stored rule's parameters as editable strings."""
    return {k: str(v) for k, v in rule_params(rule.rule).items()}
