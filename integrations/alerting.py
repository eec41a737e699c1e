"""The alert check: evaluate every budget and rule, store new events once, notify once.

A check covers the whole current period, not only its instant: a budget's month so far (in
the budget's timezone), every day of the UTC month for cost spikes, and every window of the
UTC month for the window rules (error rate, P95 latency, 429s). An event is stored once per
(alert key, period): a budget threshold once per budget per month, a cost spike once per spike
day, a window rule once per window that fired. Notifications go out for firing events not yet
sent on a channel, so a failed delivery (an error, a redirect, no answer within the deadline) is
retried by the next check and a successful one is never repeated. Muted budgets and rules are
evaluated and reported but neither stored nor sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core.access import Actor
from core.alerts import (
    COST_SPIKE,
    HOUR,
    RUNAWAY,
    Alert,
    WindowMetrics,
    budget_alerts,
    forecast_alert,
    runaway_alerts,
    runaway_armed,
    spike_alerts,
    window_alerts,
)
from core.forecast import month_bounds
from db.budgets import (
    Budget,
    BudgetError,
    Rule,
    as_utc,
    budget_overview,
    budget_period,
    daily_spend,
    deliveries_of,
    event_ids_for,
    list_budgets,
    list_rules,
    member_spend,
    record_delivery,
    record_events,
    utcnow,
    window_series,
)
from integrations.notify import Delivery, NotifyConfig, deliver_each


@dataclass
class CheckResult:
    """What one check found, stored and sent."""

    as_of: datetime
    firing: list[Alert] = field(default_factory=list)
    muted: list[Alert] = field(default_factory=list)
    new_event_ids: list[int] = field(default_factory=list)
    notified: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # budgets that could not be evaluated


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


def period_start(as_of: datetime) -> datetime:
    """The first instant of the UTC month of `as_of`: where a rule's current period starts."""
    first, _ = month_bounds(as_of.date())
    return datetime.combine(first, datetime.min.time(), UTC)


# The windows read for one evaluation, by (scope, window minutes): rules on the same scope and
# windows (the error rate, latency and 429 defaults all watch hourly windows of all traffic)
# share one grouped read of the month's rows.
WindowReads = dict[tuple[str, int], list[WindowMetrics]]


def rule_alerts_at(
    engine: Engine, rule: Rule, as_of: datetime, reads: WindowReads | None = None
) -> list[Alert]:
    """Alerts of one operational rule over its period up to `as_of`: every spike day of the
    UTC month, every window of the month that fired. `reads` keeps the windows read for
    other rules of the same evaluation."""
    start = period_start(as_of)
    today = as_of.date()
    if rule.kind == RUNAWAY:  # rolling windows ending this month, from hourly spend
        if not runaway_armed(rule.rule):
            return []
        reach = start - (rule.rule.window_hours - 1) * HOUR
        hourly = member_spend(engine, rule.scope, rule.rule.dimension, reach, as_of, 1)
        return runaway_alerts(hourly, rule.rule, rule.scope, start)
    if rule.kind == COST_SPIKE:
        first = start.date() - timedelta(days=rule.rule.baseline_days + 1)
        daily = daily_spend(engine, rule.scope, first, today)
        days = [start.date() + timedelta(days=i) for i in range((today - start.date()).days + 1)]
        return spike_alerts(daily, days, rule.rule, rule.scope)
    reads = {} if reads is None else reads
    minutes = rule.rule.window_minutes
    if (rule.scope, minutes) not in reads:
        reads[(rule.scope, minutes)] = window_series(engine, rule.scope, start, as_of, minutes)
    return window_alerts(rule.kind, reads[(rule.scope, minutes)], rule.rule, rule.scope)


def evaluate(
    engine: Engine, as_of: datetime, problems: list[str] | None = None
) -> tuple[list[Alert], list[Alert]]:
    """(firing, muted) alerts of every budget and enabled rule at `as_of`; a budget that cannot
    be evaluated (its currency has no rate yet) is skipped and said in `problems`."""
    firing: list[Alert] = []
    muted: list[Alert] = []
    for budget in list_budgets(engine):
        try:
            found = budget_alerts_at(engine, budget, as_of)
        except BudgetError as exc:
            if problems is not None:
                problems.append(str(exc))
            continue
        (muted if _muted(budget.muted_until, as_of) else firing).extend(found)
    reads: WindowReads = {}
    for rule in list_rules(engine):
        if rule.enabled:
            found = rule_alerts_at(engine, rule, as_of, reads)
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
    *,
    actor: Actor,
) -> CheckResult:
    """Evaluate everything at `as_of` (default now), store new events, send them when `notify`."""
    as_of = as_utc(as_of) if as_of else utcnow()
    problems: list[str] = []
    firing, muted = evaluate(engine, as_of, problems)
    result = CheckResult(as_of=as_of, firing=firing, muted=muted, problems=problems)
    result.new_event_ids = record_events(engine, firing, as_of, actor=actor)
    if notify is not None and notify.channels:
        result.notified, result.deliveries = send_pending(engine, firing, notify, sleep)
    return result
