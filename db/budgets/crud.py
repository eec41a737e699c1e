"""Budgets and operational alert rules: the views the product uses, and their CRUD.

A new scope must name something: stored traffic, or a model or provider the price book
knows (`db.budgets.scopes.check_scope`). It is stored with its model canonical, so
`model:gpt-4o-2024-08-06` is kept as `model:gpt-4o`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from sqlmodel import select as sm_select

from core.access import Actor, require
from core.alerts import (
    RULE_TYPES,
    RUNAWAY_DIMENSIONS,
    TEXT_PARAMS,
    rule_from_params,
    rule_params,
)
from core.costs import picos_to_usd
from core.currency import BASE, CurrencyError, parse_currency
from db.audit import record
from db.budgets.clock import as_utc, utcnow
from db.budgets.scopes import check_scope
from db.budgets.tables import AlertRuleRow, BudgetRow
from db.budgets.validation import (
    PUSD_PER_USD,
    BudgetError,
    check_name,
    parse_amount,
    parse_scope,
    parse_thresholds,
    parse_timezone,
)

POSITIVE_PARAMS = ("window_minutes", "baseline_days", "sla_ms", "factor", "k", "window_hours")


@dataclass(frozen=True)
class Budget:
    """A monthly budget as the product uses it: `amount` is in `currency`."""

    id: int
    name: str
    amount: Decimal
    scope: str
    thresholds_pct: tuple[int, ...]
    timezone: str
    forecast_alert: bool
    muted_until: datetime | None
    currency: str = BASE

    @property
    def amount_usd(self) -> Decimal:
        """The amount of a budget set in USD (one in another currency has no fixed USD one)."""
        if self.currency != BASE:
            raise BudgetError(f"Budget {self.name!r} is set in {self.currency}, not {BASE}.")
        return self.amount


@dataclass(frozen=True)
class Rule:
    """An operational alert rule with its typed parameters."""

    id: int
    kind: str
    scope: str
    enabled: bool
    rule: Any
    muted_until: datetime | None


def _to_budget(row: BudgetRow) -> Budget:
    """The product's view of a stored budget."""
    return Budget(
        id=row.id or 0,
        name=row.name,
        amount=picos_to_usd(row.amount_pusd),
        scope=row.scope,
        thresholds_pct=parse_thresholds(row.thresholds),
        timezone=row.timezone,
        forecast_alert=row.forecast_alert,
        muted_until=row.muted_until,
        currency=row.currency,
    )


def _currency(text: str | None) -> str:
    """A budget's currency code (USD when not given); raises BudgetError."""
    try:
        return parse_currency(text or BASE)
    except CurrencyError as exc:
        raise BudgetError(f"{exc}.") from exc


def _new_scope(engine: Engine, scope: str | None, stored: str | None) -> str:
    """The scope to store: a stored scope is kept as it is; a new one must name something."""
    if stored is not None and str(parse_scope(scope)) == stored:
        return stored
    return str(check_scope(engine, scope))


# ---------------------------------------------------------------- budgets


def set_budget(
    engine: Engine,
    *,
    name: str,
    amount: Decimal | str | float | int | None = None,
    currency: str = BASE,
    scope: str = "all",
    thresholds: str | tuple[int, ...] | None = None,
    timezone: str = "UTC",
    forecast_alert: bool = True,
    budget_id: int | None = None,
    amount_usd: Decimal | str | float | int | None = None,
    actor: Actor,
) -> Budget:
    """Create or update a budget (by `budget_id`, else by name) after validating it.

    `amount` is a month's amount in `currency` (an ISO 4217 code, USD by default);
    `amount_usd` is the older spelling of a USD amount.
    """
    require(actor, "budget.write")
    name = check_name(name)
    if amount_usd is not None:
        amount, currency = amount_usd, BASE
    if amount is None:
        raise BudgetError("A budget needs an amount.")
    if isinstance(thresholds, tuple):
        thresholds = ",".join(str(t) for t in thresholds)
    values = {
        "name": name,
        "amount_pusd": int(parse_amount(amount) * PUSD_PER_USD),
        "currency": _currency(currency),
        "thresholds": ",".join(str(t) for t in parse_thresholds(thresholds)),
        "timezone": parse_timezone(timezone),
        "forecast_alert": forecast_alert,
    }
    parse_scope(scope)  # a syntax error is reported before the database is read
    with Session(engine) as session:
        row = _find_budget(session, budget_id, name)
        clash = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if clash is not None and row is not None and clash.id != row.id:
            raise BudgetError(f"Another budget is already called {name!r}.")
        values["scope"] = _new_scope(engine, scope, row.scope if row else None)
        now = utcnow()
        before = _audited(row) if row else None
        row = row or BudgetRow(name=name, created_at=now, updated_at=now)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        session.add(row)
        record(session, actor, "budget.save", name, before, _audited(row))
        session.commit()
        session.refresh(row)
        return _to_budget(row)


def _audited(row: BudgetRow) -> dict[str, Any]:
    """A budget as its audit rows show it: the amount in its currency (`amount_usd` in dollars)."""
    shown = row.model_dump(exclude={"id", "created_at", "updated_at", "amount_pusd"})
    return {f"amount_{row.currency.lower()}": picos_to_usd(row.amount_pusd), **shown}


def _find_budget(session: Session, budget_id: int | None, name: str) -> BudgetRow | None:
    """The budget to update: by id when given (it must exist), else by name."""
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


def delete_budget(engine: Engine, name: str, *, actor: Actor) -> bool:
    """Delete the budget called `name` (its alert history stays); False when there was none."""
    require(actor, "budget.write")
    with Session(engine) as session:
        row = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if row is None:
            return False
        record(session, actor, "budget.delete", name, _audited(row), None)
        session.delete(row)
        session.commit()
        return True


def mute_budget(engine: Engine, name: str, until: datetime | None, *, actor: Actor) -> None:
    """Silence a budget's alerts until `until` (None unmutes)."""
    require(actor, "budget.write")
    with Session(engine) as session:
        row = session.exec(sm_select(BudgetRow).where(BudgetRow.name == name)).first()
        if row is None:
            raise BudgetError(f"Budget {name!r} no longer exists.")
        record(session, actor, "budget.mute", name, row.muted_until, until)
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
    """Every operational rule: the stored ones, and each kind's default (scope all, id 0) while
    none is stored for all traffic. Reads only; a default is stored when first saved or muted."""
    with Session(engine) as session:
        rows = session.exec(sm_select(AlertRuleRow).order_by(AlertRuleRow.kind, AlertRuleRow.scope))
        stored = [
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
    present = {(r.kind, r.scope) for r in stored}
    defaults = [
        Rule(0, kind, "all", True, cls(), None)
        for kind, cls in RULE_TYPES.items()
        if (kind, "all") not in present
    ]
    return sorted([*stored, *defaults], key=lambda r: (r.kind, r.scope))


def _checked_rule(kind: str, params: dict[str, Any]) -> Any:
    """The typed rule of `kind` from form or stored parameters; raises BudgetError."""
    if kind not in RULE_TYPES:
        raise BudgetError(f"Unknown rule {kind!r}.")
    try:
        rule = rule_from_params(kind, params)
    except (ValueError, InvalidOperation) as exc:
        raise BudgetError(f"A setting of the {kind} rule is not a number.") from exc
    dimension = getattr(rule, "dimension", None)
    if dimension is not None and dimension not in RUNAWAY_DIMENSIONS:
        choices = ", ".join(RUNAWAY_DIMENSIONS)
        raise BudgetError(f"The {kind} rule watches one of {choices} (got {dimension!r}).")
    for name, value in rule_params(rule).items():
        if name in TEXT_PARAMS:
            continue
        positive = name in POSITIVE_PARAMS
        if Decimal(str(value)) < (1 if positive else 0):
            label = name.replace("_", " ")
            raise BudgetError(
                f"The {label} must be {'at least 1' if positive else 'zero or more'}."
            )
    return rule


def _rule_row(session: Session, kind: str, scope: str) -> AlertRuleRow | None:
    """The stored rule of `kind` for exactly `scope`."""
    stmt = sm_select(AlertRuleRow).where(AlertRuleRow.kind == kind, AlertRuleRow.scope == scope)
    return session.exec(stmt).first()


def save_rule(
    engine: Engine,
    *,
    kind: str,
    params: dict[str, Any],
    enabled: bool = True,
    scope: str = "all",
    actor: Actor,
) -> Rule:
    """Create or update the rule of `kind` for `scope` with new parameters."""
    require(actor, "alert_rule.write")
    rule = _checked_rule(kind, params)
    typed = str(parse_scope(scope))
    with Session(engine) as session:
        stored = _rule_row(session, kind, typed)
        scope = typed if stored is not None else str(check_scope(engine, typed))
        row = stored or _rule_row(session, kind, scope)
        before = {"params": row.params, "enabled": row.enabled} if row else None
        row = row or AlertRuleRow(kind=kind, scope=scope, updated_at=utcnow())
        row.params, row.enabled, row.updated_at = json.dumps(rule_params(rule)), enabled, utcnow()
        session.add(row)
        after = {"params": row.params, "enabled": enabled}
        record(session, actor, "alert_rule.save", f"{kind} {scope}", before, after)
        session.commit()
        session.refresh(row)
        return Rule(row.id or 0, kind, row.scope, enabled, rule, row.muted_until)


def mute_rule(
    engine: Engine, kind: str, scope: str, until: datetime | None, *, actor: Actor
) -> None:
    """Silence a rule's alerts until `until` (None unmutes); a default rule is stored first."""
    require(actor, "alert_rule.write")
    if kind not in RULE_TYPES:
        raise BudgetError(f"Unknown rule {kind!r}.")
    with Session(engine) as session:
        row = _rule_row(session, kind, scope)
        if row is None and scope != "all":
            raise BudgetError(f"No {kind} rule for {scope}.")
        if row is None:
            params = json.dumps(rule_params(RULE_TYPES[kind]()))
            row = AlertRuleRow(kind=kind, scope=scope, params=params, updated_at=utcnow())
        record(session, actor, "alert_rule.mute", f"{kind} {scope}", row.muted_until, until)
        row.muted_until = as_utc(until) if until else None
        session.add(row)
        session.commit()


def rule_params_of(rule: Rule) -> dict[str, Any]:
    """A stored rule's parameters as editable strings."""
    return {k: str(v) for k, v in rule_params(rule.rule).items()}
