"""Budgets & alerts: monthly budgets with forecasts, firing alerts, history and rule settings."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core.alerts import (
    KIND_LABELS,
    OPERATIONAL_KINDS,
    SPIKE_METHOD,
    Alert,
    SpikeRule,
    group_budget_alerts,
)
from core.forecast import METHOD, BudgetStatus
from db import budgets as bdb
from integrations.alerting import CheckResult, check_alerts
from integrations.notify import NotifyConfig, describe, load_config
from ui import format as fmt
from ui.charts import budgets as charts
from ui.resources import config, engine

DEFAULT_SCOPE_HELP = (
    "all, project:NAME, model:NAME, tag:NAME, feature:NAME or provider:NAME. A model counts "
    "every name it was logged under: model:gpt-4o includes gpt-4o-2024-08-06. A scope must "
    "name logged traffic, or a price-book model or provider (a budget before launch)."
)
PARAM_LABELS = {
    "max_error_pct": "Max error rate (%)",
    "window_minutes": "Window (minutes)",
    "min_requests": "Min requests in window",
    "sla_ms": "P95 SLA (ms)",
    "max_count": "Max 429s in window",
    "max_pct": "Max 429 share (%)",
    "k": "k (× scaled MAD)",
    "factor": "Factor (× median)",
    "baseline_days": "Baseline days",
    "min_baseline_days": "Min baseline days",
    "min_spend_usd": "Min day spend (USD)",
}
RULE_HELP = {
    "error_rate": "Share of requests with status 400 or above in the last window (from the request "
    "logs); fires above the maximum once the window holds the minimum number of requests.",
    "latency_p95": "95th percentile latency of the requests in the last window, read from "
    "histogram buckets about 10 % wide; fires above the SLA.",
    "rate_limit": "429 responses in the last window; fires above the count, or above the share "
    "once the window holds the minimum number of requests.",
}
MUTE_CHOICES = {
    "1 day": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
}


def notify_config() -> NotifyConfig:
    """Notification settings from env vars or .streamlit/secrets.toml."""
    return load_config(config)


def budget_form(prefix: str, budget: bdb.Budget | None = None) -> None:
    """Create (or edit) a budget; validation errors are shown, never raised."""
    with st.form(f"budgets_form_{prefix}", border=budget is None):
        c1, c2, c3 = st.columns([2, 1, 2])
        name = c1.text_input(
            "Name", value=budget.name if budget else "", key=f"budgets_name_{prefix}"
        )
        amount = c2.number_input("Monthly amount (USD)", min_value=0.0, step=50.0,
                                 value=float(budget.amount_usd) if budget else 500.0,
                                 key=f"budgets_amount_{prefix}")  # fmt: skip
        scope = c3.text_input("Scope", value=budget.scope if budget else "all",
                              help=DEFAULT_SCOPE_HELP, key=f"budgets_scope_{prefix}")  # fmt: skip
        c4, c5, c6 = st.columns([2, 2, 1])
        default_t = ",".join(map(str, budget.thresholds_pct)) if budget else "50,75,90,100"
        thresholds = c4.text_input(
            "Thresholds (%)", value=default_t, key=f"budgets_thresholds_{prefix}"
        )
        tz = c5.text_input("Month starts in timezone", value=budget.timezone if budget else "UTC",
                           help="An IANA name such as Europe/Berlin", key=f"budgets_tz_{prefix}")  # fmt: skip
        fc = c6.checkbox("Forecast alert", value=budget.forecast_alert if budget else True,
                         key=f"budgets_fc_{prefix}")  # fmt: skip
        if st.form_submit_button("Save budget", type="primary", key=f"budgets_save_{prefix}"):
            try:
                bdb.set_budget(engine(), name=name, amount_usd=str(amount), scope=scope,
                               thresholds=thresholds, timezone=tz, forecast_alert=fc,
                               budget_id=budget.id if budget else None)  # fmt: skip
            except bdb.BudgetError as exc:
                st.error(fmt.escape_markdown(exc), icon=":material/error:")
                return
            saved = fmt.escape_markdown(repr(name.strip()))
            st.toast(f"Budget {saved} saved", icon=":material/check:")
            st.rerun()


def empty_state() -> None:
    """No budget yet: say what a budget does and offer the form."""
    st.info(
        "No budgets yet. A budget is a monthly amount in USD for everything, a project, a model "
        "or a tag; Costdesk tracks spend against it, forecasts the month end and alerts at 50, 75, "
        "90 and 100 % (editable). Spend comes from the ingested request logs (`python cli.py demo` "
        "loads demo traffic). Create a budget below, or from a terminal:",
        icon=":material/savings:",
    )
    st.code("python cli.py budget set --name Team --amount 500 --scope all", language="bash")
    budget_form("new")


def crossing_text(status: BudgetStatus) -> str:
    """'75 % on Mar 25 · 90 % on Mar 28' for thresholds not reached yet."""
    ahead = [t for t in status.crossings if t not in status.reached]
    parts = [
        f"{t} % projected on {status.crossings[t]:%b %d}" for t in ahead if status.crossings[t]
    ]
    if not ahead:
        return "every threshold reached"
    return " · ".join(parts) or "no further threshold projected this month"


def budget_card(budget: bdb.Budget, status: BudgetStatus, note: str | None = None) -> None:
    """One budget: spend, share used (coloured bar), forecast, projected crossings, edit/delete."""
    with st.container(border=True, key=f"budgets_card_{budget.id}"):
        head, badge = st.columns([4, 1])
        name = fmt.escape_markdown(budget.name)
        scope, tz = fmt.escape_markdown(budget.scope), fmt.escape_markdown(budget.timezone)
        head.markdown(f"**{name}** · {scope} · month in {tz}")
        if note:
            head.caption(f":material/info: {fmt.escape_markdown(note)}")
        reached = status.highest_reached
        with badge:
            st.badge(f"{reached} % reached" if reached else "on track",
                     color=charts.badge_color(status))  # fmt: skip
        st.markdown(charts.progress_html(status), unsafe_allow_html=True)
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("Spent", fmt.usd(status.spent_usd), help=f"of {fmt.usd(status.amount_usd)}")
        m2.metric("Used", f"{status.used_pct} %")
        fc = status.forecast
        m3.metric("Month-end forecast", fmt.usd(fc.forecast_usd),
                  help=f"90 % interval {fmt.usd(fc.low_usd)} – {fmt.usd(fc.high_usd)}")  # fmt: skip
        m4.metric("Days left", fc.days_left)
        st.caption(
            f"Range {fmt.usd(fc.low_usd)} – {fmt.usd(fc.high_usd)} · {crossing_text(status)}"
        )
        edit, delete, _ = st.columns([1, 1, 4])
        with edit.popover("Edit", icon=":material/edit:"):
            budget_form(f"edit_{budget.id}", budget)
        with delete.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete budget **{name}**? Its alert history stays.")
            if st.button("Delete budget", type="primary", key=f"budgets_delete_{budget.id}"):
                bdb.delete_budget(engine(), budget.name)
                st.rerun()


def forecast_section(budgets: list[bdb.Budget], statuses: dict[int, BudgetStatus]) -> None:
    """The forecast chart of one budget (pick it) and the method in one sentence."""
    st.subheader("Forecast")
    names = {b.name: b for b in budgets}
    picked = st.selectbox("Budget", list(names), key="budgets_chart_budget")
    budget = names[picked]
    status = statuses[budget.id]
    st.plotly_chart(charts.forecast_figure(status), key="budgets_forecast_chart")
    st.caption(METHOD)


def mute(alert: Alert, budgets: dict[str, bdb.Budget], choice: str, as_of: datetime) -> None:
    """Silence the budget or rule behind `alert`."""
    if choice == "until the month ends" and alert.subject in budgets:
        until = bdb.end_of_month(budgets[alert.subject], as_of)
    else:
        until = datetime.now(UTC) + MUTE_CHOICES.get(choice, timedelta(days=1))
    if alert.kind in OPERATIONAL_KINDS:
        bdb.mute_rule(engine(), alert.kind, alert.scope, until)
    else:
        bdb.mute_budget(engine(), alert.subject, until)


def alert_row(alert: Alert, events: list, budgets: dict, as_of: datetime) -> None:
    """One firing alert (standing for `events`: a budget's lower thresholds too), ack and mute."""
    key = abs(hash(f"{alert.key}:{alert.period}"))
    with st.container(border=True, key=f"budgets_alert_{key}"):
        text, ack, mute_col = st.columns([5, 1.6, 1.2])
        kind = fmt.escape_markdown(KIND_LABELS.get(alert.kind, alert.kind))
        text.markdown(
            f"**{kind}** · {fmt.escape_markdown(alert.scope)} — "
            f"{alert.value} {alert.unit} (threshold {alert.threshold} {alert.unit})"
        )
        text.caption(fmt.escape_markdown(alert.message))
        open_events = [e for e in events if e.acknowledged_at is None]
        if events and not open_events:
            ack.caption(f"Acknowledged {max(e.acknowledged_at for e in events):%b %d %H:%M} UTC")
        elif open_events and ack.button(
            "Acknowledge", icon=":material/done:", key=f"budgets_ack_{key}"
        ):
            for event in open_events:
                bdb.acknowledge_event(engine(), event.id)
            st.rerun()
        with mute_col.popover("Mute", icon=":material/notifications_off:"):
            options = [*MUTE_CHOICES, "until the month ends"]
            choice = st.radio("Mute for", options, key=f"budgets_mute_for_{key}")
            if st.button("Mute", key=f"budgets_mute_{key}"):
                mute(alert, budgets, choice, as_of)
                st.rerun()


def alerts_section(result: CheckResult, budgets: list[bdb.Budget]) -> None:
    """Alerts firing at the chosen instant, newest stored event first."""
    st.subheader("Active alerts")
    if not result.firing:
        st.success("No alert is firing.", icon=":material/check_circle:")
    events = {
        (e.key, e.period): e
        for e in bdb.list_events(engine(), since=result.as_of - timedelta(days=62))
    }
    by_name = {b.name: b for b in budgets}
    for alert, covered in group_budget_alerts(result.firing):
        stored = [events[(a.key, a.period)] for a in covered if (a.key, a.period) in events]
        alert_row(alert, stored, by_name, result.as_of)
    if result.muted:
        st.caption(
            "Muted: "
            + "; ".join(
                f"{KIND_LABELS[a.kind]} ({fmt.escape_markdown(a.subject)})" for a in result.muted
            )
        )


def delivery_text(stored: str) -> str:
    """'webhook sent · slack failed: HTTP 500' from the stored per-channel status."""
    status = json.loads(stored or "{}")
    return " · ".join(f"{channel} {state}" for channel, state in status.items()) or "not sent"


def history_section() -> None:
    """Every stored alert event, filterable."""
    st.subheader("History")
    c1, c2, c3 = st.columns([2, 2, 1])
    kinds = c1.multiselect(
        "Kind", list(KIND_LABELS), format_func=KIND_LABELS.get, key="budgets_hist_kind"
    )
    subject = c2.text_input("Budget or rule", key="budgets_hist_subject", placeholder="any")
    status = c3.selectbox("Status", ["all", "open", "acknowledged"], key="budgets_hist_status")
    ack = {"all": None, "open": False, "acknowledged": True}[status]
    subjects = (subject.strip(),) if subject.strip() else ()
    rows = bdb.list_events(engine(), kinds=tuple(kinds), subjects=subjects, acknowledged=ack)
    if not rows:
        st.caption(
            "No alert stored yet for these filters. Checks store each alert once per period."
        )
        return
    frame = pd.DataFrame([
        {"fired": r.fired_at, "kind": KIND_LABELS.get(r.kind, r.kind), "budget / rule": r.subject,
         "scope": r.scope, "period": r.period, "value": f"{r.value.normalize():f} {r.unit}",
         "threshold": f"{r.threshold.normalize():f} {r.unit}", "message": r.message,
         "acknowledged": r.acknowledged_at, "delivery": delivery_text(r.deliveries)}
        for r in rows
    ])  # fmt: skip
    st.dataframe(frame, hide_index=True, key="budgets_history_table")


def rule_form(rule: bdb.Rule) -> None:
    """Edit one operational rule's parameters."""
    params = dict(bdb.rule_params_of(rule))
    with st.form(f"budgets_rule_{rule.kind}_{rule.id}", border=False):
        enabled = st.checkbox("Enabled", value=rule.enabled, key=f"budgets_rule_on_{rule.id}")
        cols = st.columns(len(params))
        values = {
            name: col.text_input(
                PARAM_LABELS.get(name, name), value=str(value), key=f"budgets_rule_{rule.id}_{name}"
            )
            for col, (name, value) in zip(cols, params.items(), strict=True)
        }
        if st.form_submit_button("Save rule", key=f"budgets_rule_save_{rule.id}"):
            try:
                bdb.save_rule(
                    engine(), kind=rule.kind, params=values, enabled=enabled, scope=rule.scope
                )
            except bdb.BudgetError as exc:
                st.error(fmt.escape_markdown(exc), icon=":material/error:")
                return
            st.toast("Rule saved", icon=":material/check:")


def rules_section() -> None:
    """Operational rule settings and the notification channels (without secrets)."""
    st.subheader("Rule settings")
    rules = bdb.list_rules(engine())
    tabs = st.tabs(
        [
            KIND_LABELS[r.kind] + ("" if r.scope == "all" else f" ({fmt.escape_markdown(r.scope)})")
            for r in rules
        ]
    )
    for tab, rule in zip(tabs, rules, strict=True):
        with tab:
            if rule.kind == "cost_spike":
                s = rule.rule if isinstance(rule.rule, SpikeRule) else SpikeRule()
                st.caption(SPIKE_METHOD.format(factor=s.factor, days=s.baseline_days, k=s.k))
            else:
                st.caption(RULE_HELP.get(rule.kind, ""))
            rule_form(rule)
    st.caption(
        "To be told without opening this page, schedule `python cli.py alerts check --notify` "
        "(for example every 10 minutes with cron); each alert is sent once."
    )
    channels = "; ".join(map(fmt.escape_markdown, describe(notify_config()).values()))
    st.caption("Notifications: " + (channels or
               "none configured. Set COSTDESK_WEBHOOK_URL, COSTDESK_SLACK_WEBHOOK_URL or "
               "COSTDESK_SMTP_HOST + COSTDESK_ALERT_EMAIL_TO (env or .streamlit/secrets.toml)."))  # fmt: skip


st.title("Budgets & alerts")
st.caption(
    "Monthly budgets with a month-end forecast, and alerts on spend, errors, latency and 429s."
)
budgets = bdb.list_budgets(engine())
top_left, top_right = st.columns([1, 3], vertical_alignment="bottom")
day = top_left.date_input("As of (UTC day)", value=datetime.now(UTC).date(), key="budgets_as_of")
as_of = bdb.as_of_for(day)
send = top_right.button("Check now and notify", key="budgets_notify", icon=":material/send:")
try:
    result = check_alerts(engine(), as_of, notify=notify_config() if send else None)
except Exception as exc:  # a broken database must not show a traceback
    st.error(f"The alert check failed ({type(exc).__name__}). Check the database connection.")
    st.stop()
if send:
    st.toast(f"{len(result.new_event_ids)} new alert(s) stored, {result.notified} sent",
             icon=":material/send:")  # fmt: skip
    for d in result.deliveries:
        if not d.ok:
            st.warning(f"Sending on {d.channel} failed after {d.attempts} attempts "
                       f"({fmt.escape_markdown(d.error)}).")  # fmt: skip
        elif d.warning:
            st.warning(f"Sent on {d.channel} with a warning: {fmt.escape_markdown(d.warning)}.")

if not budgets:
    empty_state()
else:
    statuses = {b.id: bdb.budget_overview(engine(), b, as_of) for b in budgets}
    notes = bdb.budget_notes(engine(), budgets)
    for budget in budgets:
        budget_card(budget, statuses[budget.id], notes.get(budget.id))
    with st.expander("New budget", icon=":material/add:"):
        budget_form("new")
    forecast_section(budgets, statuses)
alerts_section(result, budgets)
history_section()
rules_section()
