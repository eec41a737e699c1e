"""The alert check: evaluate every budget and rule, store new events once, notify once.

An event is stored once per (alert key, period): a budget threshold once per budget per month
(in the budget's timezone), an operational rule once per rule per UTC day, a cost spike once
per spike day. Notifications go out for firing events not yet sent on a channel, so a failed
delivery (an error, a redirect, no answer within the deadline) is retried by the next check and a
successful one is never repeated. Muted budgets and rules are evaluated and reported but neither
stored nor sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from core.alerts import (
    COST_SPIKE,
    Alert,
    budget_alerts,
    cost_spike_alert,
    error_rate_alert,
    forecast_alert,
    latency_alert,
    rate_limit_alert,
)
from db.budgets import (
    Budget,
    Rule,
    as_utc,
    budget_overview,
    budget_period,
    daily_spend,
    deliveries_of,
    event_ids_for,
    list_budgets,
    list_rules,
    record_delivery,
    record_events,
    utcnow,
    window_metrics,
)
from integrations.notify import Delivery, NotifyConfig, deliver_each

WINDOW_RULES = {
    "error_rate": error_rate_alert,
    "latency_p95": latency_alert,
    "rate_limit": rate_limit_alert,
}


@dataclass
class CheckResult:
    """What one check found, stored and sent."""

    as_of: datetime
    firing: list[Alert] = field(default_factory=list)
    muted: list[Alert] = field(default_factory=list)
    new_event_ids: list[int] = field(default_factory=list)
    notified: int = 0
    deliveries: list[Delivery] = field(default_factory=list)


def _muted(until: datetime | None, as_of: datetime) -> bool:
    return until is not None and as_utc(until) > as_of


def budget_alerts_at(engine: Engine, budget: Budget, as_of: datetime) -> list[Alert]:
    """Threshold and forecast alerts of one budget at `as_of`."""
    status = budget_overview(engine, budget, as_of)
    period = budget_period(budget, as_of)
    alerts = budget_alerts(budget.name, budget.scope, status, period)
    if budget.forecast_alert and (fc := forecast_alert(budget.name, budget.scope, status, period)):
        alerts.append(fc)
    return alerts


def rule_alerts_at(engine: Engine, rule: Rule, as_of: datetime) -> list[Alert]:
    """Alerts of one operational rule at `as_of` (windows end at `as_of`; days are UTC)."""
    today = as_of.date()
    if rule.kind == COST_SPIKE:
        start = today - timedelta(days=rule.rule.baseline_days + 1)
        daily = daily_spend(engine, rule.scope, start, today)
        found = (
            cost_spike_alert(daily, day, rule.rule, rule.scope)
            for day in (today - timedelta(1), today)
        )
        return [a for a in found if a]
    window_start = as_of - timedelta(minutes=rule.rule.window_minutes)
    metrics = window_metrics(engine, rule.scope, window_start, as_of)
    alert = WINDOW_RULES[rule.kind](metrics, rule.rule, rule.scope, today.isoformat())
    return [alert] if alert else []


def evaluate(engine: Engine, as_of: datetime) -> tuple[list[Alert], list[Alert]]:
    """(firing, muted) alerts of every budget and enabled rule at `as_of`."""
    firing: list[Alert] = []
    muted: list[Alert] = []
    for budget in list_budgets(engine):
        found = budget_alerts_at(engine, budget, as_of)
        (muted if _muted(budget.muted_until, as_of) else firing).extend(found)
    for rule in list_rules(engine):
        if rule.enabled:
            found = rule_alerts_at(engine, rule, as_of)
            (muted if _muted(rule.muted_until, as_of) else firing).extend(found)
    return firing, muted


def pending_batches(
    engine: Engine, alerts: list[Alert], channels: tuple[str, ...]
) -> tuple[dict[tuple[str, str], int], dict[str, list[Alert]]]:
    """(event id of each stored alert, per channel the alerts not yet sent on it)."""
    ids = event_ids_for(engine, alerts)
    status = {event_id: deliveries_of(engine, event_id) for event_id in set(ids.values())}
    batches = {
        channel: [
            a
            for a in alerts
            if (a.key, a.period) in ids and status[ids[(a.key, a.period)]].get(channel) != "sent"
        ]
        for channel in channels
    }
    return ids, batches


def send_pending(
    engine: Engine,
    alerts: list[Alert],
    config: NotifyConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[Delivery]]:
    """Send each firing alert on every channel it was not yet sent on; (events sent, deliveries).

    Channels are sent at the same time, each within its own deadline, so a hung channel delays
    no other; it is recorded as failed and retried by the next check.
    """
    ids, batches = pending_batches(engine, alerts, config.channels)
    deliveries = deliver_each(batches, config, sleep)
    sent: set[int] = set()
    for delivery in deliveries:
        for a in batches[delivery.channel]:
            event_id = ids[(a.key, a.period)]
            record_delivery(engine, event_id, delivery.channel, delivery.ok, delivery.error)
            if delivery.ok:
                sent.add(event_id)
    return len(sent), deliveries


def check_alerts(
    engine: Engine,
    as_of: datetime | None = None,
    notify: NotifyConfig | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Evaluate everything at `as_of` (default now), store new events, send them when `notify`."""
    as_of = as_utc(as_of) if as_of else utcnow()
    firing, muted = evaluate(engine, as_of)
    result = CheckResult(as_of=as_of, firing=firing, muted=muted)
    result.new_event_ids = record_events(engine, firing, as_of)
    if notify is not None and notify.channels:
        result.notified, result.deliveries = send_pending(engine, firing, notify, sleep)
    return result
