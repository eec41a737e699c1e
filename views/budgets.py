"""Budgets & alerts: monthly budgets with forecasts, the month's stored alerts, history, rules.

The page reads; it writes only on a button (save, delete, check, acknowledge, mute).
"""

from datetime import UTC, datetime

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from core.currency import BASE, Conversion, money_text
from core.forecast import METHOD, BudgetStatus
from core.text import plural
from db import budgets as bdb
from integrations.alerting import CheckResult, check_alerts
from integrations.notify import NotifyConfig, load_config
from ui import alert_list
from ui import format as fmt
from ui.auth import actor, can, needs
from ui.charts import budgets as charts
from ui.charts import draw
from ui.currency import display_conversion, money, rate_caption
from ui.resources import config, engine
from ui.rule_settings import rules_section

DEFAULT_SCOPE_HELP = (
    "all, project:NAME, model:NAME, tag:NAME, feature:NAME or provider:NAME. A model counts "
    "every name it was logged under: model:gpt-4o includes gpt-4o-2024-08-06. A scope must "
    "name logged traffic, or a price-book model or provider (a budget before launch)."
)


def notify_config() -> NotifyConfig:
    """Notification settings from env vars or .streamlit/secrets.toml."""
    return load_config(config)


def budget_form(prefix: str, budget: bdb.Budget | None = None) -> None:
    """Create (or edit) a budget; validation errors are shown, never raised."""
    if not needs("budget.write"):
        return
    with st.form(f"budgets_form_{prefix}", border=budget is None):
        c1, c2, c2b, c3 = st.columns([2, 1, 0.6, 2])
        name = c1.text_input(
            "Name", value=budget.name if budget else "", key=f"budgets_name_{prefix}"
        )
        amount = c2.number_input("Monthly amount", min_value=0.0, step=50.0,
                                 value=float(budget.amount) if budget else 500.0,
                                 key=f"budgets_amount_{prefix}")  # fmt: skip
        currency = c2b.text_input("Currency", value=budget.currency if budget else BASE,
                                  max_chars=3, key=f"budgets_currency_{prefix}",
                                  help="The amount's currency (ISO code). Spend is compared at "
                                  "the rate recorded for the day of each check.")  # fmt: skip
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
                bdb.set_budget(engine(), name=name, amount=str(amount), currency=currency,
                               scope=scope,
                               thresholds=thresholds, timezone=tz, forecast_alert=fc,
                               budget_id=budget.id if budget else None, actor=actor())  # fmt: skip
            except bdb.BudgetError as exc:
                st.error(fmt.escape_markdown(exc), icon=":material/error:")
                return
            saved = fmt.escape_markdown(repr(name.strip()))
            st.toast(f"Budget {saved} saved", icon=":material/check:")
            st.rerun()


def empty_state() -> None:
    """No budget yet: say what a budget does and offer the form."""
    st.info(
        "No budgets yet. A budget is a monthly amount (USD or another currency) for everything, a project, a model "
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


def budget_card(
    budget: bdb.Budget, status: BudgetStatus, conv: Conversion, note: str | None = None
) -> None:
    """One budget: spend, share used (coloured bar), forecast, projected crossings, edit/delete;
    figures in the display currency `conv`."""
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
        m1.metric(
            "Spent", money(status.spent_usd, conv), help=f"of {amount_text(budget, status, conv)}"
        )
        m2.metric("Used", f"{status.used_pct} %")
        fc = status.forecast
        m3.metric("Month-end forecast", money(fc.forecast_usd, conv),
                  help=f"90 % interval {money(fc.low_usd, conv)} – {money(fc.high_usd, conv)}")  # fmt: skip
        m4.metric("Days left", fc.days_left)
        st.caption(
            f"Range {money(fc.low_usd, conv)} – {money(fc.high_usd, conv)} · "
            f"{crossing_text(status)}"
        )
        if status.conversion.converted:
            st.caption(f"Budget set in {budget.currency}: "
                       f"{fmt.escape_markdown(status.conversion.note)}.")  # fmt: skip
        budget_actions(budget)


def amount_text(budget: bdb.Budget, status: BudgetStatus, conv: Conversion) -> str:
    """The budget's amount: in its own currency when it was set in one, else as shown."""
    if budget.currency != BASE:
        return money_text(budget.amount, budget.currency)
    return money(status.amount_usd, conv)


def problem_card(budget: bdb.Budget, problem: str) -> None:
    """A budget that cannot be evaluated (its currency has no rate yet): why, and edit/delete."""
    with st.container(border=True, key=f"budgets_card_{budget.id}"):
        st.markdown(f"**{fmt.escape_markdown(budget.name)}** · "
                    f"{fmt.escape_markdown(budget.scope)}")  # fmt: skip
        st.warning(fmt.escape_markdown(problem), icon=":material/currency_exchange:")
        budget_actions(budget)


def overviews(
    budgets: list[bdb.Budget], as_of: datetime
) -> tuple[dict[int, BudgetStatus], dict[int, str]]:
    """Each budget's status at `as_of`, and why a budget has none."""
    statuses, problems = {}, {}
    for b in budgets:
        try:
            statuses[b.id] = bdb.budget_overview(engine(), b, as_of)
        except bdb.BudgetError as exc:
            problems[b.id] = str(exc)
    return statuses, problems


def budget_actions(budget: bdb.Budget) -> None:
    """Edit and delete, for those who may."""
    if not can("budget.write"):
        return
    name = fmt.escape_markdown(budget.name)
    edit, delete, _ = st.columns([1, 1, 4])
    with edit.popover("Edit", icon=":material/edit:"):
        budget_form(f"edit_{budget.id}", budget)
    with delete.popover("Delete", icon=":material/delete:"):
        st.write(f"Delete budget **{name}**? Its alert history stays.")
        if st.button("Delete budget", type="primary", key=f"budgets_delete_{budget.id}"):
            bdb.delete_budget(engine(), budget.name, actor=actor())
            st.rerun()


def forecast_section(
    budgets: list[bdb.Budget], statuses: dict[int, BudgetStatus], conv: Conversion
) -> None:
    """The forecast chart of one budget (pick it) and the method in one sentence."""
    st.subheader("Forecast")
    names = {b.name: b for b in budgets if b.id in statuses}
    if not names:
        return
    picked = st.selectbox("Budget", list(names), key="budgets_chart_budget")
    budget = names[picked]
    status = statuses[budget.id]
    draw(charts.forecast_figure(status, conv=conv), key="budgets_forecast_chart")
    st.caption(METHOD)
    rate_caption(conv)


def run_check(as_of: datetime, notify: NotifyConfig | None) -> None:
    """Evaluate every budget and rule over the month so far, store new alerts, maybe send."""
    with st.status("Checking budgets and alert rules over the month…") as status:
        try:
            result: CheckResult = check_alerts(engine(), as_of, notify=notify, actor=actor())
        except Exception as exc:  # a broken database must not show a traceback
            status.update(label="The check failed", state="error")
            st.error(f"The alert check failed ({type(exc).__name__}). Check the database.")
            return
        sent = f", {plural(result.notified, 'alert')} sent" if notify else ""
        status.update(
            label=f"Checked as of {result.as_of:%d %b %H:%M} UTC: "
            f"{plural(len(result.firing), 'alert')} this month, "
            f"{len(result.new_event_ids):,} new{sent}",
            state="complete",
        )
    for d in result.deliveries:
        if not d.ok:
            st.warning(f"Sending on {d.channel} failed after {d.attempts} attempts "
                       f"({fmt.escape_markdown(d.error)}).")  # fmt: skip
        elif d.warning:
            st.warning(f"Sent on {d.channel} with a warning: {fmt.escape_markdown(d.warning)}.")


def check_bar() -> datetime:
    """The as-of day and the Check now button; returns the instant the page shows."""
    left, mid, right = st.columns([1.2, 1, 2.4], vertical_alignment="bottom")
    day = left.date_input("As of (UTC day)", value=datetime.now(UTC).date(),
                          key="budgets_as_of", format="YYYY-MM-DD")  # fmt: skip
    as_of = bdb.as_of_for(day)
    settings = notify_config()
    notify = right.checkbox(
        "Send notifications",
        key="budgets_notify",
        disabled=not settings.channels,
        help="Send new alerts to the configured channels (each once)."
        if settings.channels
        else "No channel is configured (see below).",
    )
    if mid.button("Check now", key="budgets_check", icon=":material/sync:", type="primary",
                  disabled=not can("alerts.check"),
                  help="Evaluate every budget and rule over the month so far and store what "
                  "fired. Opening this page never does."):  # fmt: skip
        run_check(as_of, settings if notify else None)
    return as_of


st.title("Budgets & alerts")
st.caption(
    "Monthly budgets with a month-end forecast, and alerts on spend, errors, latency and 429s."
)
try:
    budgets = bdb.list_budgets(engine())
except SQLAlchemyError as exc:
    st.error(f"Cannot read the database ({type(exc).__name__}). Check COSTDESK_DATABASE_URL.")
    st.stop()
as_of = check_bar()
if not budgets:
    empty_state()
else:
    conversion = display_conversion(as_of.date())
    statuses, problems = overviews(budgets, as_of)
    notes = bdb.budget_notes(engine(), budgets)
    for budget in budgets:
        if budget.id in problems:
            problem_card(budget, problems[budget.id])
        else:
            budget_card(budget, statuses[budget.id], conversion, notes.get(budget.id))
    rate_caption(conversion)
    with st.expander("New budget", icon=":material/add:"):
        budget_form("new")
    forecast_section(budgets, statuses, conversion)
reached = {b.id: statuses[b.id].reached for b in budgets if b.id in statuses} if budgets else {}
alert_list.alerts_section(budgets, as_of, reached)
alert_list.history_section()
rules_section(notify_config())
