"""Alert rule settings on the Budgets page: each parameter with a label and help in plain words."""

from __future__ import annotations

import streamlit as st

from core.alerts import KIND_LABELS, SPIKE_METHOD, SpikeRule
from db import budgets as bdb
from integrations.notify import NotifyConfig, describe
from ui import format as fmt
from ui.auth import actor, can
from ui.resources import engine

PARAM_LABELS = {
    "max_error_pct": "Max error rate (%)",
    "window_minutes": "Window (minutes)",
    "min_requests": "Min requests in window",
    "sla_ms": "P95 limit (ms)",
    "max_count": "Max 429s in window",
    "max_pct": "Max 429 share (%)",
    "k": "Swing multiple (k)",
    "factor": "Multiple of the median day",
    "baseline_days": "Days compared with",
    "min_baseline_days": "Days needed first",
    "min_spend_usd": "Ignore days under (USD)",
    "dimension": "Watch each",
    "max_usd": "Max per member (USD)",
    "median_factor": "Multiple of the median member",
    "window_hours": "Window (hours)",
    "min_members": "Members needed for the median",
}
RUNAWAY_HELP = {
    "dimension": "user, key, team or project: each one's spend is judged on its own.",
    "max_usd": "Fires when any single one spends more than this in a window (0: off).",
    "median_factor": "Fires when any single one spends more than this many times the median "
    "one in the window (0: off); 10 catches one customer running away from the rest.",
    "window_hours": "The rolling window: 24 means any 24 hours in a row, checked hour by hour.",
    "min_members": "The median test needs at least this many that spent in the window.",
    "min_spend_usd": "Members that spent less than this in a window never fire.",
}
PARAM_HELP = {
    "max_error_pct": "Fires when more than this share of a window's requests fail (status 400 "
    "or above).",
    "window_minutes": "Each window's length, aligned to the clock: 60 means every hour from :00 "
    "to :59 (UTC). Every window of the month that fired is listed.",
    "min_requests": "A window with fewer requests is not judged: a rate over a handful of calls "
    "is noise (3 failures of 30 is 10 %, and means little).",
    "sla_ms": "Fires when the slowest 5 % of a window's requests took longer than this.",
    "max_count": "Fires when a window holds more 429 (rate-limited) responses than this.",
    "max_pct": "Fires when more than this share of a window's requests were rate-limited.",
    "k": "How far from normal a day must be. Each day is compared with the median of the days "
    "before it; the usual day-to-day swing is how far a typical day strays from that median (the "
    "scaled median absolute deviation, which one odd day barely moves). A day is a spike when it "
    "costs more than the median plus k swings: with k = 3, three usual swings above normal.",
    "factor": "A spike must also cost more than this many times the median day (2 = double), so "
    "a very steady series does not alert on small wobbles.",
    "baseline_days": "How many previous days the median and the usual swing come from.",
    "min_baseline_days": "Days of history needed before any day can be judged.",
    "min_spend_usd": "Days that cost less than this are never reported as spikes.",
}
RULE_HELP = {
    "error_rate": "Share of requests with status 400 or above in each window of the month (from "
    "the request logs); fires above the maximum once the window holds the minimum number of "
    "requests.",
    "latency_p95": "95th percentile latency of the requests in each window, read from histogram "
    "buckets about 10 % wide; fires above the limit once the window holds the minimum number of "
    "requests.",
    "rate_limit": "429 responses in each window; fires above the count or the share once the "
    "window holds the minimum number of requests.",
    "runaway": "Any single user (or key, team, project) whose spend in a window is above a "
    "dollar limit or a multiple of the median one's; the alert names each offender. Off until "
    "a limit is set. Requests that name none are not judged.",
}


def param_help(kind: str, name: str) -> str | None:
    """A parameter's help, in the words of its rule."""
    own = RUNAWAY_HELP if kind == "runaway" else {}
    return own.get(name) or PARAM_HELP.get(name)


def rule_key(rule: bdb.Rule) -> str:
    """A widget-key part naming a rule by its kind and scope (defaults are not stored yet)."""
    return f"{rule.kind}_{rule.scope}"


def rule_form(rule: bdb.Rule) -> None:
    """Edit one operational rule's parameters; errors are shown, never raised."""
    params = bdb.rule_params_of(rule)
    key = rule_key(rule)
    with st.form(f"budgets_rule_{key}", border=False):
        enabled = st.checkbox("Enabled", value=rule.enabled, key=f"budgets_rule_on_{key}")
        cols = st.columns(len(params))
        values = {
            name: col.text_input(PARAM_LABELS.get(name, name), value=str(value),
                                 help=param_help(rule.kind, name),
                                 key=f"budgets_rule_{key}_{name}")
            for col, (name, value) in zip(cols, params.items(), strict=True)
        }  # fmt: skip
        if st.form_submit_button(
            "Save rule", key=f"budgets_rule_save_{key}", disabled=not can("alert_rule.write")
        ):
            try:
                bdb.save_rule(
                    engine(),
                    kind=rule.kind,
                    params=values,
                    enabled=enabled,
                    scope=rule.scope,
                    actor=actor(),
                )
            except bdb.BudgetError as exc:
                st.error(fmt.escape_markdown(exc), icon=":material/error:")
                return
            st.toast("Rule saved; the next check uses it", icon=":material/check:")


def rules_section(config: NotifyConfig) -> None:
    """Operational rule settings and the notification channels (without secrets)."""
    st.subheader("Rule settings")
    rules = bdb.list_rules(engine())
    labels = [
        KIND_LABELS[r.kind] + ("" if r.scope == "all" else f" ({fmt.escape_markdown(r.scope)})")
        for r in rules
    ]
    for tab, rule in zip(st.tabs(labels), rules, strict=True):
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
    channels = "; ".join(map(fmt.escape_markdown, describe(config).values()))
    st.caption("Notifications: " + (channels or
               "none configured. Set COSTDESK_WEBHOOK_URL, COSTDESK_SLACK_WEBHOOK_URL or "
               "COSTDESK_SMTP_HOST + COSTDESK_ALERT_EMAIL_TO (env or .streamlit/secrets.toml)."))  # fmt: skip
