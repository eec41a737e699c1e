"""Budgets, alert rules and alert events: tables, CRUD and the spend/traffic queries they need.

One module per job: `tables` (the SQLModel tables), `validation` (names, amounts, thresholds,
timezones, scope syntax), `scopes` (which rows a scope matches; a new scope must name stored
traffic or a priced model), `crud` (budgets and rules), `spend` (spend and traffic of a scope,
a budget's month), `events` (alerts stored once per period, deliveries, acknowledgement).
Everything public is importable from `db.budgets`.
"""

from __future__ import annotations

from core.scopes import SCOPE_KINDS
from db.budgets.clock import as_of_for, as_utc, local_today, utcnow
from db.budgets.crud import (
    Budget,
    Rule,
    delete_budget,
    ensure_default_rules,
    get_budget,
    list_budgets,
    list_rules,
    mute_budget,
    mute_rule,
    rule_params_of,
    save_rule,
    set_budget,
)
from db.budgets.events import (
    acknowledge_event,
    alert_of,
    deliveries_of,
    event_ids_for,
    list_events,
    record_delivery,
    record_events,
)
from db.budgets.scopes import check_scope, resolve_scope, scope_clause, scope_note
from db.budgets.spend import (
    budget_conversion,
    budget_notes,
    budget_overview,
    budget_period,
    daily_spend,
    end_of_month,
    member_spend,
    window_metrics,
    window_series,
)
from db.budgets.tables import (
    AlertEventBase,
    AlertEventRow,
    AlertRuleBase,
    AlertRuleRow,
    BudgetBase,
    BudgetRow,
)
from db.budgets.validation import (
    DEFAULT_THRESHOLDS,
    PUSD_PER_USD,
    BudgetError,
    check_name,
    parse_amount,
    parse_scope,
    parse_thresholds,
    parse_timezone,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PUSD_PER_USD",
    "SCOPE_KINDS",
    "AlertEventBase",
    "AlertEventRow",
    "AlertRuleBase",
    "AlertRuleRow",
    "Budget",
    "BudgetBase",
    "BudgetError",
    "BudgetRow",
    "Rule",
    "acknowledge_event",
    "alert_of",
    "as_of_for",
    "as_utc",
    "budget_conversion",
    "budget_notes",
    "budget_overview",
    "budget_period",
    "check_name",
    "check_scope",
    "daily_spend",
    "delete_budget",
    "deliveries_of",
    "end_of_month",
    "ensure_default_rules",
    "event_ids_for",
    "get_budget",
    "list_budgets",
    "list_events",
    "list_rules",
    "local_today",
    "member_spend",
    "mute_budget",
    "mute_rule",
    "parse_amount",
    "parse_scope",
    "parse_thresholds",
    "parse_timezone",
    "record_delivery",
    "record_events",
    "resolve_scope",
    "rule_params_of",
    "save_rule",
    "scope_clause",
    "scope_note",
    "set_budget",
    "utcnow",
    "window_metrics",
    "window_series",
]
