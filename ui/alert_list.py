"""The stored alerts of a period, grouped for reading: one row per budget (its highest
threshold), per forecast, and per rule (every spike day or window that fired, listed inside),
with acknowledge, mute and a link to the Usage page on the days behind it; and the history.

Reading writes nothing; storing happens in a check (`integrations.alerting.check_alerts`),
from the Check now button or `python cli.py alerts check`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.alerts import BUDGET, COST_SPIKE, FORECAST, KIND_LABELS, Alert, group_budget_alerts
from core.forecast import month_bounds
from core.text import plural
from db import budgets as bdb
from db.budgets import AlertEventRow, alert_of
from ui import format as fmt
from ui.auth import actor, can
from ui.drilldown import SECTION as DRILL_SECTION
from ui.drilldown import SECTION_KEY
from ui.resources import engine

UNITS = {COST_SPIKE: ("spike day", "spike days")}


@dataclass(frozen=True)
class AlertGroup:
    """What one row of the active alerts shows: its headline alert and the events behind it."""

    shown: Alert  # the highest threshold, or the latest window or day of a rule
    events: tuple[AlertEventRow, ...]

    @property
    def key(self) -> str:
        """A stable widget key for the row."""
        text = f"{self.shown.kind}|{self.shown.subject}|{self.shown.scope}|{self.shown.period}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    @property
    def open_events(self) -> list[AlertEventRow]:
        """Events not acknowledged yet."""
        return [e for e in self.events if e.acknowledged_at is None]

    @property
    def is_rule(self) -> bool:
        """True for an operational rule (grouped over its windows or days)."""
        return self.shown.kind not in (BUDGET, FORECAST)


def group_events(rows: list[AlertEventRow]) -> list[AlertGroup]:
    """Rows for the period's stored events, budgets first, then rules by kind and scope."""
    pairs = [(alert_of(r), r) for r in rows]
    by_alert = {(a.key, a.period): r for a, r in pairs}
    budget_like = [a for a, _ in pairs if a.kind in (BUDGET, FORECAST)]
    groups = [
        AlertGroup(shown, tuple(by_alert[(a.key, a.period)] for a in covered))
        for shown, covered in group_budget_alerts(budget_like)
    ]
    rules: dict[tuple[str, str], list[tuple[Alert, AlertEventRow]]] = {}
    for a, r in pairs:
        if a.kind not in (BUDGET, FORECAST):
            rules.setdefault((a.kind, a.scope), []).append((a, r))
    for _, found in sorted(rules.items()):
        found.sort(key=lambda pair: pair[0].period)
        groups.append(AlertGroup(found[-1][0], tuple(r for _, r in found)))
    return groups


def period_text(period: str) -> str:
    """'Nov 2026', '2 Nov 2026' or '2 Nov 14:00 UTC' from a stored period."""
    if len(period) == 7:
        return f"{date.fromisoformat(period + '-01'):%b %Y}"
    if len(period) == 10:
        return fmt.day_text(date.fromisoformat(period))
    day = date.fromisoformat(period[:10])
    return f"{day.day} {day:%b} {period[11:16]} UTC"


def headline(group: AlertGroup) -> str:
    """'**Cost spike** · all traffic: 1 spike day this month; latest 2 Nov 2026, $58.75
    (limit $22.75)', escaped for Markdown."""
    a = group.shown
    kind = fmt.escape_markdown(KIND_LABELS.get(a.kind, a.kind))
    scope = "all traffic" if a.scope in ("", "all") else fmt.escape_markdown(a.scope)
    value = f"{fmt.measure(a.value, a.unit)} (threshold {fmt.measure(a.threshold, a.unit)})"
    if not group.is_rule:
        subject = fmt.escape_markdown(a.subject)
        return f"**{kind}** · {subject} ({scope}): {value}"
    noun = UNITS.get(a.kind, ("window", "windows"))
    count = plural(len(group.events), *noun)
    return f"**{kind}** · {scope}: {count} this month; latest {period_text(a.period)}, {value}"


def events_table(group: AlertGroup) -> pd.DataFrame:
    """Every window or day of a rule's row, for display."""
    return pd.DataFrame(
        {
            "When": [period_text(e.period) for e in group.events],
            "Value": [fmt.measure(e.value, e.unit) for e in group.events],
            "Threshold": [fmt.measure(e.threshold, e.unit) for e in group.events],
            "Acknowledged": ["yes" if e.acknowledged_at else "no" for e in group.events],
        }
    )


def history_frame(rows: list[AlertEventRow], deliveries: dict[int, str]) -> pd.DataFrame:
    """Stored events for the history table: values in their units, periods in words."""
    return pd.DataFrame(
        {
            "Checked": [r.fired_at for r in rows],
            "Kind": [KIND_LABELS.get(r.kind, r.kind) for r in rows],
            "Budget or rule": [KIND_LABELS.get(r.subject, r.subject) for r in rows],
            "Scope": [r.scope for r in rows],
            "When": [period_text(r.period) for r in rows],
            "Value": [fmt.measure(r.value, r.unit) for r in rows],
            "Threshold": [fmt.measure(r.threshold, r.unit) for r in rows],
            "Message": [r.message for r in rows],
            "Acknowledged": [r.acknowledged_at for r in rows],
            "Sent": [deliveries.get(r.id or 0, "not sent") for r in rows],
        }
    )


# ---------------------------------------------------------------- rendering

MUTE_CHOICES = {"1 day": timedelta(days=1), "7 days": timedelta(days=7),
                "30 days": timedelta(days=30)}  # fmt: skip
MONTH_END = "until the month ends"
USAGE_PAGE = "views/usage.py"


def mute(group: AlertGroup, budgets: dict[str, bdb.Budget], choice: str, as_of: datetime) -> None:
    """Silence the budget or rule behind a row."""
    alert = group.shown
    if choice == MONTH_END and alert.subject in budgets:
        until = bdb.end_of_month(budgets[alert.subject], as_of)
    elif choice == MONTH_END:
        _, last = month_bounds(as_of.date())
        until = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    else:
        until = datetime.now(UTC) + MUTE_CHOICES.get(choice, timedelta(days=1))
    if group.is_rule:
        bdb.mute_rule(engine(), alert.kind, alert.scope, until, actor=actor())
    else:
        bdb.mute_budget(engine(), alert.subject, until, actor=actor())


def _usage_link(group: AlertGroup, as_of: datetime) -> None:
    """A link to the Usage page on the days behind the row (a spike day opens its requests)."""
    a = group.shown
    if a.kind == COST_SPIKE:
        params = {"from": a.period, "to": a.period, SECTION_KEY: DRILL_SECTION}
        label = f"See the requests of {period_text(a.period)} on Usage"
    elif not group.is_rule:
        first, _ = month_bounds(as_of.date())
        params = {"from": first.isoformat(), "to": as_of.date().isoformat()}
        label = "See this month on Usage"
    else:
        day = a.period[:10]
        params = {"from": day, "to": day, SECTION_KEY: DRILL_SECTION}
        label = f"See the requests of {period_text(day)} on Usage"
    try:
        st.page_link(USAGE_PAGE, label=label, icon=":material/monitoring:", query_params=params)
    except (StreamlitAPIException, KeyError):
        st.caption(f"{label} (Usage page).")


def alert_row(group: AlertGroup, budgets: dict[str, bdb.Budget], as_of: datetime) -> None:
    """One row: what fired, the advice, its windows or days, acknowledge and mute."""
    with st.container(border=True, key=f"budgets_alert_{group.key}"):
        text, ack, mute_col = st.columns([5, 1.6, 1.2])
        text.markdown(headline(group))
        text.caption(fmt.escape_markdown(group.shown.message))
        opened = group.open_events
        if not opened:
            when = max(e.acknowledged_at for e in group.events)
            ack.caption(f"Acknowledged {when:%d %b %H:%M} UTC")
        elif ack.button(
            "Acknowledge",
            icon=":material/done:",
            key=f"budgets_ack_{group.key}",
            disabled=not can("alerts.check"),
        ):
            for event in opened:
                bdb.acknowledge_event(engine(), event.id, actor=actor())
            st.rerun()
        with mute_col.popover(
            "Mute", icon=":material/notifications_off:", disabled=not can("budget.write")
        ):
            choice = st.radio("Mute for", [*MUTE_CHOICES, MONTH_END],
                              key=f"budgets_mute_for_{group.key}")  # fmt: skip
            if st.button("Mute", key=f"budgets_mute_{group.key}"):
                mute(group, budgets, choice, as_of)
                st.rerun()
        if group.is_rule and len(group.events) > 1:
            with st.expander(f"All {plural(len(group.events), 'time')} it fired this month"):
                st.dataframe(events_table(group), hide_index=True, key=f"budgets_ev_{group.key}")
        _usage_link(group, as_of)


def muted_text(budgets: list[bdb.Budget], rules: list[bdb.Rule], now: datetime) -> str:
    """'Muted: budget Team until 01 Dec; Rate limits (429) until 03 Dec', or ''."""
    parts = [
        f"budget {fmt.escape_markdown(b.name)} until {bdb.as_utc(b.muted_until):%d %b %H:%M} UTC"
        for b in budgets
        if b.muted_until and bdb.as_utc(b.muted_until) > now
    ]
    parts += [
        f"{KIND_LABELS[r.kind]} until {bdb.as_utc(r.muted_until):%d %b %H:%M} UTC"
        for r in rules
        if r.muted_until and bdb.as_utc(r.muted_until) > now
    ]
    return ("Muted (checks report these but neither store nor send them): " + "; ".join(parts)
            if parts else "")  # fmt: skip


def unchecked(budgets: list[bdb.Budget], reached: dict[int, tuple[int, ...]],
              rows: list[AlertEventRow]) -> list[str]:  # fmt: skip
    """Names of budgets past a threshold that no check has stored yet (escaped)."""
    stored = {r.key for r in rows}
    return [
        fmt.escape_markdown(b.name)
        for b in budgets
        if any(f"budget:{b.name}:{t}" not in stored for t in reached.get(b.id, ()))
    ]


def alerts_section(
    budgets: list[bdb.Budget], as_of: datetime, reached: dict[int, tuple[int, ...]]
) -> None:
    """The alerts stored for the month of `as_of`: every budget, spike day and window that
    fired, newest check first; reading them writes nothing. `reached` holds each budget's
    thresholds reached now, to say when no check has stored them yet."""
    month = f"{as_of:%Y-%m}"
    st.subheader(f"Alerts of {period_text(month)}")
    rows = bdb.list_events(engine(), period_prefix=month, limit=2000)
    if names := unchecked(budgets, reached, rows):
        st.info(
            f"Past a threshold but not checked yet: {', '.join(names)}. Check now stores the "
            "alert (and sends it, with notifications on).",
            icon=":material/sync_problem:",
        )
    groups = group_events(rows)
    if not groups:
        st.info(
            f"No alert stored for {period_text(month)}: nothing fired, or no check has run since "
            "the data arrived. Check now evaluates every budget and rule over the month so far.",
            icon=":material/notifications_none:",
        )
    else:
        newest = max(r.fired_at for r in rows)
        st.caption(f"Stored by checks (Check now, or `python cli.py alerts check`); the latest "
                   f"ran as of {bdb.as_utc(newest):%d %b %Y %H:%M} UTC.")  # fmt: skip
    by_name = {b.name: b for b in budgets}
    rules, now = bdb.list_rules(engine()), bdb.utcnow()
    silenced = muted_subjects(budgets, rules, now)
    for group in groups:
        if (group.shown.kind, group.shown.subject, group.shown.scope) not in silenced:
            alert_row(group, by_name, as_of)
    if note := muted_text(budgets, rules, now):
        st.caption(note)


def muted_subjects(
    budgets: list[bdb.Budget], rules: list[bdb.Rule], now: datetime
) -> set[tuple[str, str, str]]:
    """(kind, subject, scope) of every row a mute hides now (budgets: both of their kinds)."""
    out = set()
    for b in budgets:
        if b.muted_until and bdb.as_utc(b.muted_until) > now:
            out |= {(BUDGET, b.name, b.scope), (FORECAST, b.name, b.scope)}
    for r in rules:
        if r.muted_until and bdb.as_utc(r.muted_until) > now:
            out.add((r.kind, r.kind, r.scope))
    return out


def history_section() -> None:
    """Every stored alert event, filterable, values in their units."""
    st.subheader("History")
    c1, c2, c3 = st.columns([2, 2, 1])
    kinds = c1.multiselect("Kind", list(KIND_LABELS), format_func=KIND_LABELS.get,
                           key="budgets_hist_kind", placeholder="every kind")  # fmt: skip
    subject = c2.text_input("Budget or rule", key="budgets_hist_subject", placeholder="any")
    status = c3.selectbox("Status", ["all", "open", "acknowledged"], key="budgets_hist_status")
    ack = {"all": None, "open": False, "acknowledged": True}[status]
    subjects = (subject.strip(),) if subject.strip() else ()
    rows = bdb.list_events(engine(), kinds=tuple(kinds), subjects=subjects, acknowledged=ack)
    if not rows:
        st.caption("No alert stored yet for these filters. Checks store each alert once.")
        return
    sent = {r.id or 0: delivery_text(r.deliveries) for r in rows}
    st.dataframe(history_frame(rows, sent), hide_index=True, key="budgets_history_table",
                 column_config={"Checked": DATETIME, "Acknowledged": DATETIME})  # fmt: skip


DATETIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")


def delivery_text(stored: str) -> str:
    """'webhook sent · slack failed: HTTP 500' from the stored per-channel status."""
    status = json.loads(stored or "{}")
    return " · ".join(f"{channel} {state}" for channel, state in status.items()) or "not sent"
