"""Alert rules over aggregates: budget thresholds, forecast overrun, error rate, P95 latency,
429s and cost spikes. Pure functions; each returns the `Alert` that fired (or nothing) with its
value, its threshold and a message that says what to do next.

Rates are in percent (5 means 5 %); latency in ms; spend in USD.
Cost spike method: a day fires when its spend is above both `factor` × the median of the
trailing `baseline_days` days and the median + `k` × the scaled median absolute deviation
(1.4826 × MAD, a robust standard deviation: `core.stats.scaled_mad`) of those days.
Window rules (error rate, P95 latency, 429s) judge a window only once it holds
`min_requests` requests (`has_volume`): a rate over a handful of calls is noise.

What a budget or rule watches, its scope, is `core.scopes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.currency import money_text
from core.forecast import BudgetStatus
from core.stats import LATENCY_EDGES_MS, median, percentile, scaled_mad
from core.text import plural

BUDGET, FORECAST = "budget", "forecast"
ERROR_RATE, LATENCY, RATE_LIMIT, COST_SPIKE = (
    "error_rate",
    "latency_p95",
    "rate_limit",
    "cost_spike",
)
RUNAWAY = "runaway"
OPERATIONAL_KINDS = (ERROR_RATE, LATENCY, RATE_LIMIT, COST_SPIKE, RUNAWAY)
KIND_LABELS = {
    BUDGET: "Budget threshold",
    FORECAST: "Forecast over budget",
    ERROR_RATE: "Error rate",
    LATENCY: "P95 latency",
    RATE_LIMIT: "Rate limits (429)",
    COST_SPIKE: "Cost spike",
    RUNAWAY: "Runaway spender",
}
SPIKE_METHOD = (
    "A day is a spike when its spend is above both {factor}× the median day of the previous "
    "{days} days and that median plus {k}× the usual day-to-day swing (the scaled median "
    "absolute deviation: how far a typical day strays from the median)."
)
# Defaults that fire on a real burst, not on the noise of a normal hour: a window of 100 or
# more requests, 8 % errors, 5 % 429s, a 10 s P95 (reasoning models are slow by design).
MIN_WINDOW_REQUESTS = 100


@dataclass(frozen=True)
class Alert:
    """One firing condition: what, where, how far over, and what to do about it."""

    kind: str
    scope: str
    subject: str  # the budget's name, or the rule's kind
    key: str  # stable identity; with `period` it makes an alert fire once
    period: str  # "2026-03" for budgets (the month in the budget's timezone), a day for rules
    value: Decimal
    threshold: Decimal
    unit: str
    message: str


@dataclass(frozen=True)
class ErrorRateRule:
    """Error rate (status >= 400) over the last `window_minutes`, once `min_requests` are seen."""

    max_error_pct: Decimal = Decimal(8)
    window_minutes: int = 60
    min_requests: int = MIN_WINDOW_REQUESTS


@dataclass(frozen=True)
class LatencyRule:
    """P95 latency over the last `window_minutes` above an SLA."""

    sla_ms: int = 10_000
    window_minutes: int = 60
    min_requests: int = MIN_WINDOW_REQUESTS


@dataclass(frozen=True)
class RateLimitRule:
    """429 responses in a window: above a count, or above a share of requests."""

    max_count: int = 50
    max_pct: Decimal = Decimal(5)
    window_minutes: int = 60
    min_requests: int = MIN_WINDOW_REQUESTS


@dataclass(frozen=True)
class SpikeRule:
    """A day's spend far above its trailing baseline (see the module docstring for the method)."""

    k: Decimal = Decimal(3)
    factor: Decimal = Decimal(2)
    baseline_days: int = 14
    min_baseline_days: int = 7
    min_spend_usd: Decimal = Decimal(1)


# Who a runaway rule watches one by one, and the stored column of each.
RUNAWAY_DIMENSIONS = {"user": "user", "key": "key_label", "team": "team", "project": "project"}
TEXT_PARAMS = frozenset({"dimension"})


@dataclass(frozen=True)
class RunawayRule:
    """Any single user (or key, team, project) whose spend in a rolling window of
    `window_hours` is above `max_usd`, or above `median_factor` x the median member's spend in
    that window (once `min_members` spent anything). 0 turns a test off; both are off until set. Members under
    `min_spend_usd` never fire; requests naming no member are not one."""

    dimension: str = "user"
    max_usd: Decimal = Decimal(0)
    median_factor: Decimal = Decimal(0)
    window_hours: int = 24
    min_members: int = 3
    min_spend_usd: Decimal = Decimal(1)


RULE_TYPES: dict[str, type] = {
    ERROR_RATE: ErrorRateRule,
    LATENCY: LatencyRule,
    RATE_LIMIT: RateLimitRule,
    COST_SPIKE: SpikeRule,
    RUNAWAY: RunawayRule,
}


@dataclass(frozen=True)
class WindowMetrics:
    """Traffic in one time window: requests, errors, 429s and a latency histogram.

    `start` is the window's first instant (UTC) when the window is one of a series; without
    it the window is "the last `window_minutes`".
    """

    requests: int
    errors: int
    rate_limited: int
    latency_counts: tuple[int, ...] = ()
    start: datetime | None = None


def has_volume(metrics: WindowMetrics, rule: ErrorRateRule | LatencyRule | RateLimitRule) -> bool:
    """The minimum-volume rule of every window rule: judge a window of `min_requests` or more."""
    return metrics.requests >= max(rule.min_requests, 1)


def window_period(metrics: WindowMetrics, period: str) -> str:
    """The period an alert of this window is stored under: its start (`2026-11-02T14:00Z`)."""
    return f"{metrics.start:%Y-%m-%dT%H:%MZ}" if metrics.start else period


def _window_text(metrics: WindowMetrics, minutes: int) -> str:
    """'in the 60 min from 2026-11-02 14:00 UTC', or 'in the last 60 min'."""
    if metrics.start is None:
        return f"in the last {minutes} min"
    return f"in the {minutes} min from {metrics.start:%Y-%m-%d %H:%M} UTC"


def rule_from_params(kind: str, params: Mapping[str, Any]) -> Any:
    """A rule of `kind` from stored parameters (unknown keys ignored, missing ones defaulted)."""
    cls = RULE_TYPES[kind]
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in params and params[f.name] is not None:
            default = getattr(cls(), f.name)
            out[f.name] = type(default)(
                str(params[f.name]) if isinstance(default, Decimal) else params[f.name]
            )
    return cls(**out)


def rule_params(rule: Any) -> dict[str, Any]:
    """A rule's parameters as JSON-friendly values (Decimals as strings)."""
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(rule).items()}


def _pct(part: int | Decimal, whole: int | Decimal) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _usd(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _budget_money(value_usd: Decimal, status: BudgetStatus) -> str:
    """A budget figure in the budget's own currency (USD, or converted at its rate)."""
    conv = status.conversion
    return money_text(conv.amount(value_usd), conv.currency) if conv.converted else _usd(value_usd)


def _rate_text(status: BudgetStatus) -> str:
    """' at 1 USD = 0.9 EUR (rate of 2025-01-20)' for a budget in another currency, else ''."""
    return f" at {status.conversion.note}" if status.conversion.converted else ""


def _scope_text(scope: str) -> str:
    return "all traffic" if scope in ("", "all") else scope


def budget_alerts(name: str, scope: str, status: BudgetStatus, period: str) -> list[Alert]:
    """One alert per threshold reached by actual spend this month."""
    alerts = []
    for t in status.reached:
        action = (
            "Spending is over budget: pause or reroute non-critical traffic, or raise the budget."
            if t >= 100
            else "Check the top models and projects on the Usage page; cap or reroute before the "
            "next threshold."
        )
        alerts.append(
            Alert(
                kind=BUDGET,
                scope=scope,
                subject=name,
                key=f"budget:{name}:{t}",
                period=period,
                value=status.used_pct,
                threshold=Decimal(t),
                unit="%",
                message=f"Budget {name!r} ({_scope_text(scope)}) has used {status.used_pct} % "
                f"({_budget_money(status.spent_usd, status)} of "
                f"{_budget_money(status.amount_usd, status)}{_rate_text(status)}), past its {t} % "
                f"threshold. {action}",
            )
        )
    return alerts


def forecast_alert(name: str, scope: str, status: BudgetStatus, period: str) -> Alert | None:
    """Fires when the month-end forecast exceeds the budget while actual spend is still under it."""
    fc = status.forecast
    if status.amount_usd <= 0 or fc.forecast_usd <= status.amount_usd:
        return None
    if status.spent_usd >= status.amount_usd:
        return None  # the 100 % threshold says it already
    when = status.crossings.get(100)
    crossing = f" around {when.isoformat()}" if when else ""
    return Alert(
        kind=FORECAST,
        scope=scope,
        subject=name,
        key=f"forecast:{name}",
        period=period,
        value=status.forecast_pct,
        threshold=Decimal(100),
        unit="%",
        message=f"Budget {name!r} ({_scope_text(scope)}) is forecast to end the month at "
        f"{_budget_money(fc.forecast_usd, status)} ({status.forecast_pct} % of "
        f"{_budget_money(status.amount_usd, status)}{_rate_text(status)}), crossing it{crossing}. Move traffic to a cheaper model, turn on caching or batching, "
        f"or raise the budget now.",
    )


def error_rate_alert(
    metrics: WindowMetrics, rule: ErrorRateRule, scope: str, period: str
) -> Alert | None:
    """Fires when errors / requests in the window exceed `max_error_pct`."""
    if not has_volume(metrics, rule):
        return None
    rate = _pct(metrics.errors, metrics.requests)
    if rate <= rule.max_error_pct:
        return None
    return Alert(
        ERROR_RATE,
        scope,
        ERROR_RATE,
        f"{ERROR_RATE}:{scope}",
        window_period(metrics, period),
        rate,
        rule.max_error_pct,
        "%",
        f"{rate} % of {plural(metrics.requests, 'request')} failed "
        f"{_window_text(metrics, rule.window_minutes)} ({_scope_text(scope)}; limit "
        f"{rule.max_error_pct} %). Check the provider's status page, and the failed calls of "
        f"that day on the Usage page (Requests, filtered by status); add retries or a fallback "
        f"model.",
    )


def latency_alert(
    metrics: WindowMetrics, rule: LatencyRule, scope: str, period: str
) -> Alert | None:
    """Fires when the window's P95 latency (from the histogram) is above the SLA."""
    if not has_volume(metrics, rule) or not any(metrics.latency_counts):
        return None
    p95 = percentile(list(metrics.latency_counts), LATENCY_EDGES_MS, 0.95)
    if p95 is None or p95 <= rule.sla_ms:
        return None
    value = Decimal(round(p95))
    return Alert(
        LATENCY,
        scope,
        LATENCY,
        f"{LATENCY}:{scope}",
        window_period(metrics, period),
        value,
        Decimal(rule.sla_ms),
        "ms",
        f"P95 latency was {value:,} ms {_window_text(metrics, rule.window_minutes)} "
        f"({_scope_text(scope)}; SLA {rule.sla_ms:,} ms). Look for long prompts or outputs, "
        f"lower max_tokens, stream responses, or route to a faster model.",
    )


def rate_limit_alert(
    metrics: WindowMetrics, rule: RateLimitRule, scope: str, period: str
) -> Alert | None:
    """Fires when a window of enough volume has more 429s than `max_count` or `max_pct`."""
    if not has_volume(metrics, rule):
        return None
    rate = _pct(metrics.rate_limited, metrics.requests)
    over_count = metrics.rate_limited > rule.max_count
    over_rate = rate > rule.max_pct
    if not (over_count or over_rate):
        return None
    value, threshold, unit = (
        (Decimal(metrics.rate_limited), Decimal(rule.max_count), "requests")
        if over_count
        else (rate, rule.max_pct, "%")
    )
    return Alert(
        RATE_LIMIT,
        scope,
        RATE_LIMIT,
        f"{RATE_LIMIT}:{scope}",
        window_period(metrics, period),
        value,
        threshold,
        unit,
        f"{plural(metrics.rate_limited, 'request')} of {metrics.requests:,} ({rate} %) were "
        f"rate-limited (429) {_window_text(metrics, rule.window_minutes)} "
        f"({_scope_text(scope)}). Add backoff with jitter, spread batch jobs, move bulk work to "
        f"the Batch API, or ask the provider for a higher tier.",
    )


def spike_limit(baseline_usd: Sequence[Decimal], rule: SpikeRule) -> Decimal:
    """The spend above which a day is a spike, given its trailing baseline days."""
    middle = median(baseline_usd)
    return max(middle + rule.k * scaled_mad(baseline_usd), rule.factor * middle)


def cost_spike_alert(
    daily_usd: Mapping[date, Decimal], day: date, rule: SpikeRule, scope: str
) -> Alert | None:
    """Fires when `day`'s spend is above `spike_limit` of the `baseline_days` before it."""
    known = [d for d in daily_usd if d < day]
    if not known or (day - min(known)).days < rule.min_baseline_days:
        return None
    days = min(rule.baseline_days, (day - min(known)).days)  # no zeros before the data starts
    baseline = [Decimal(daily_usd.get(day - timedelta(days=i), 0)) for i in range(1, days + 1)]
    spend = Decimal(daily_usd.get(day, 0))
    limit = spike_limit(baseline, rule).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if spend <= limit or spend < rule.min_spend_usd:
        return None
    return Alert(
        COST_SPIKE,
        scope,
        COST_SPIKE,
        f"{COST_SPIKE}:{scope}",
        day.isoformat(),
        spend.quantize(Decimal("0.01"), ROUND_HALF_UP),
        limit,
        "USD",
        f"Spend on {day.isoformat()} was {_usd(spend)} ({_scope_text(scope)}), above the "
        f"spike limit of {_usd(limit)} from the previous {plural(rule.baseline_days, 'day')}. "
        f"Open that day on the Usage page (Requests) to see the model, project and users behind "
        f"it; look for loops or runaway retries.",
    )


def window_alerts(
    kind: str, windows: Sequence[WindowMetrics], rule: Any, scope: str, period: str = ""
) -> list[Alert]:
    """Every window of a series that fires under the rule of `kind` (one alert per window)."""
    check = WINDOW_ALERTS[kind]
    return [a for a in (check(m, rule, scope, period) for m in windows) if a is not None]


def spike_alerts(
    daily_usd: Mapping[date, Decimal], days: Sequence[date], rule: SpikeRule, scope: str
) -> list[Alert]:
    """Every day of `days` whose spend is a spike against the days before it."""
    return [a for a in (cost_spike_alert(daily_usd, d, rule, scope) for d in days) if a]


def runaway_armed(rule: RunawayRule) -> bool:
    """Whether the rule has a test at all (`max_usd` or `median_factor` set): one without
    never fires, whatever was spent, so it need not read any spend."""
    return rule.max_usd > 0 or rule.median_factor > 0


def runaway_limit(spend_usd: Mapping[str, Decimal], rule: RunawayRule) -> Decimal | None:
    """The spend above which one member is a runaway in a window (None: no test applies):
    the lower of `max_usd` and `median_factor` x the median member (members that spent)."""
    if not runaway_armed(rule):
        return None
    limits = [rule.max_usd] if rule.max_usd > 0 else []
    spent = [v for k, v in spend_usd.items() if k and v > 0]
    if rule.median_factor > 0 and len(spent) >= max(rule.min_members, 1):
        limits.append(rule.median_factor * median(spent))
    return min(limits) if limits else None


def runaway_alert(
    spend_usd: Mapping[str, Decimal],
    rule: RunawayRule,
    scope: str,
    start: datetime | None = None,
    period: str = "",
    end: datetime | None = None,
) -> Alert | None:
    """Fires when any single member's spend in the window is above `runaway_limit`; the
    message names every offender, the largest first. A window given by its `end` (a rolling
    one) is named and keyed by that end, else by its `start`."""
    limit = runaway_limit(spend_usd, rule)
    if limit is None:
        return None
    limit = limit.quantize(Decimal("0.01"), ROUND_HALF_UP)
    offenders = sorted(
        ((k, v) for k, v in spend_usd.items() if k and v > limit and v >= rule.min_spend_usd),
        key=lambda kv: (-kv[1], kv[0]),
    )
    if not offenders:
        return None
    noun = "key" if rule.dimension == "key" else rule.dimension
    named = ", ".join(f"{noun} {k!r} ({_usd(v)})" for k, v in offenders)
    hours = rule.window_hours
    if end is not None:
        when, period = f"in the {hours} h to {end:%Y-%m-%d %H:%M} UTC", f"{end:%Y-%m-%dT%H:%MZ}"
    elif start is not None:
        when, period = (
            f"in the {hours} h from {start:%Y-%m-%d %H:%M} UTC",
            f"{start:%Y-%m-%dT%H:%MZ}",
        )
    else:
        when = f"in the last {hours} h"
    return Alert(
        RUNAWAY,
        scope,
        RUNAWAY,
        f"{RUNAWAY}:{rule.dimension}:{scope}",
        period,
        offenders[0][1].quantize(Decimal("0.01"), ROUND_HALF_UP),
        limit,
        "USD",
        f"{plural(len(offenders), 'single ' + noun)} spent more than {_usd(limit)} {when} "
        f"({_scope_text(scope)}): {named}. Check for a loop, a leaked key or a bulk job; cap or "
        f"rotate the {noun}'s key.",
    )


HOUR = timedelta(hours=1)


def rolling_spend(
    hourly: Mapping[datetime, Mapping[str, Decimal]], hours: int
) -> list[tuple[datetime, dict[str, Decimal]]]:
    """Every window of `hours` consecutive hours, sliding one hour at a time, that holds
    spend: its end (exclusive) and each member's spend in it. `hourly` holds each member's
    spend per clock hour (keyed by the hour's start)."""
    if not hourly:
        return []
    running: dict[str, Decimal] = {}

    def add(hour: datetime, sign: int) -> None:
        for member, usd in hourly.get(hour, {}).items():
            running[member] = running.get(member, Decimal(0)) + sign * usd

    first, last = min(hourly), max(hourly)
    out: list[tuple[datetime, dict[str, Decimal]]] = []
    end = first + HOUR  # the first window that holds `first` ends after it
    while end <= last + hours * HOUR:
        add(end - HOUR, 1)  # the hour entering the window
        if end - (hours + 1) * HOUR >= first:
            add(end - (hours + 1) * HOUR, -1)  # the hour leaving it
        spend = {member: usd for member, usd in running.items() if usd}
        if spend:
            out.append((end, spend))
        end += HOUR
    return out


def runaway_alerts(
    hourly: Mapping[datetime, Mapping[str, Decimal]],
    rule: RunawayRule,
    scope: str,
    since: datetime,
) -> list[Alert]:
    """One alert per run of consecutive rolling windows (ending after `since`) in which some
    member spent above the limit: keyed by the end of the run's first such window, so a run
    fires once however often it is checked; it shows the run's largest window."""
    alerts: list[Alert] = []
    first_end: datetime | None = None
    peak: Alert | None = None
    previous: datetime | None = None
    for end, spend in rolling_spend(hourly, rule.window_hours):
        if end <= since:
            continue
        alert = runaway_alert(spend, rule, scope, end=end)
        if peak is not None and (alert is None or end != previous + HOUR):
            alerts.append(_keyed(peak, first_end))
            peak = None
        if alert is not None:
            if peak is None:
                first_end, peak = end, alert
            elif alert.value > peak.value:
                peak = alert
        previous = end
    if peak is not None:
        alerts.append(_keyed(peak, first_end))
    return alerts


def _keyed(alert: Alert, first_end: datetime | None) -> Alert:
    """`alert` under the period of the run it stands for."""
    return replace(alert, period=f"{first_end:%Y-%m-%dT%H:%MZ}")


WINDOW_ALERTS = {ERROR_RATE: error_rate_alert, LATENCY: latency_alert, RATE_LIMIT: rate_limit_alert}


def group_budget_alerts(alerts: Sequence[Alert]) -> list[tuple[Alert, tuple[Alert, ...]]]:
    """Each alert to show with the alerts it stands for: a budget's highest threshold covers
    the lower ones of the same period; every other alert stands for itself."""
    top: dict[tuple[str, str], Alert] = {}
    for a in alerts:
        group = (a.subject, a.period)
        if a.kind == BUDGET and (group not in top or a.threshold > top[group].threshold):
            top[group] = a
    out = []
    for a in alerts:
        if a.kind != BUDGET:
            out.append((a, (a,)))
        elif top[(a.subject, a.period)] is a:
            covered = tuple(
                b
                for b in alerts
                if b.kind == BUDGET and (b.subject, b.period) == (a.subject, a.period)
            )
            out.append((a, covered))
    return out
