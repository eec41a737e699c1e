"""Audit trail: every change to stored data and every sign-in, for administrators only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from core.text import plural
from db.audit import filter_values, list_events
from ui.auth import actor, can
from ui.exports import csv_bytes
from ui.resources import engine

st.title("Audit trail")
st.caption(
    "Who changed what and when: prices, budgets, alert rules, scenarios, uploads, deletes, "
    "re-pricing, ingest keys and sign-ins, with the record before and after. Entries are "
    "only ever added; nothing here can be edited."
)

if not can("audit.read"):
    st.info("The audit trail is for administrators.")
    st.stop()

who = actor()
values = filter_values(engine(), who)
left, middle, right = st.columns([2, 1, 1])
today = datetime.now(UTC).date()
span = left.date_input(
    "Period", value=(today - timedelta(days=30), today), max_value=today, key="audit_period"
)
person = middle.selectbox("Who", ["Everyone", *values["actor"]], key="audit_who")
action = right.selectbox("What", ["Every action", *values["action"]], key="audit_action")

start_day, end_day = (span[0], span[-1]) if isinstance(span, tuple) and span else (today, today)
events = list_events(
    engine(),
    who,
    start=datetime.combine(start_day, time(), UTC) if isinstance(start_day, date) else None,
    end=datetime.combine(end_day + timedelta(days=1), time(), UTC),
    who="" if person == "Everyone" else person,
    action="" if action == "Every action" else action,
)

if events.empty:
    st.info("No changes recorded for these filters.")
    st.stop()

events[["before", "after"]] = events[["before", "after"]].fillna("")  # no record: blank
st.dataframe(
    events,
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "actor": "Who",
        "role": "Role",
        "via": "Through",
        "action": "Action",
        "target": "What",
        "before": "Before",
        "after": "After",
    },
)
st.caption(f"{plural(len(events), 'entry', 'entries')}, newest first.")
st.download_button(
    "Download CSV",
    csv_bytes(events),
    file_name=f"costdesk-audit-{start_day}-{end_day}.csv",
    mime="text/csv",
)
