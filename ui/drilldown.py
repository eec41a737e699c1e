"""Users & requests: the people, projects and individual requests behind a day or a model.

Opened from the Cost tab (a click on a bar picks its day and model; a row of the model table
picks the model) or by hand with the pickers. Reads raw rows (`db.queries.drilldown`), bounded
by the picked day (or at most 31 days) and a page of 50; says so when the rows were pruned.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.text import plural
from db.queries.drilldown import MAX_DAYS, PAGE_ROWS, Drill
from ui import format as fmt
from ui import usage_tables as tables
from ui.charts import usage as charts
from ui.resources import load_drill, load_requests

SECTION = "Users & requests"
SECTION_KEY = "usage_section"
ALL_DAYS, ALL_MODELS = "all", ""
DAY_KEY, MODEL_KEY, PAGE_KEY = "usage_drill_day", "usage_drill_model", "usage_drill_page"
SHOWN_KEY = "usage_drill_shown"  # the selection whose pages are being turned
CHART_KEY = "usage_cost_chart"  # the daily spend chart, whose bars open this section
ORDER_LABELS = {"cost": "Most expensive first", "newest": "Newest first", "oldest": "Oldest first"}
COUNT = st.column_config.NumberColumn(format="localized")


def open_drill(day: date | str, model: str) -> None:
    """Switch the page to this section on `day` (or every day) and `model` ("" for all)."""
    st.session_state[DAY_KEY] = day
    st.session_state[MODEL_KEY] = model
    st.session_state.pop(PAGE_KEY, None)
    st.session_state[SECTION_KEY] = SECTION


def picked_bar(points: Any) -> tuple[date, str] | None:
    """The day and model of the first bar in a chart selection (`[{"date": "2026-11-02",
    "model_id": "gpt-4o"}]`), None when nothing is picked."""
    if not points or not isinstance(points, list) or not isinstance(points[0], dict):
        return None
    point = points[0]
    try:
        day = date.fromisoformat(str(point.get("date"))[:10])
    except ValueError:
        return None
    return day, str(point.get("model_id") or ALL_MODELS)


def on_chart_pick() -> None:
    """A click on a bar of the daily spend chart opens that day and model."""
    state = st.session_state.get(CHART_KEY) or {}
    picked = picked_bar((state.get("selection") or {}).get(charts.PICK))
    if picked:
        open_drill(*picked)


def on_model_pick(models: list[str]) -> None:
    """A row picked in the model table opens that model over every day of the range."""
    state = st.session_state.get("usage_model_table") or {}
    rows = (state.get("selection") or {}).get("rows") or []
    if rows and rows[0] < len(models):
        open_drill(ALL_DAYS, models[rows[0]])


def _day_options(daily: pd.DataFrame, start: date, end: date) -> list[date | str]:
    """Days with traffic, most recent first, after "every day" when the range allows it."""
    days = sorted(set(daily["day"]), reverse=True)
    allowed = [ALL_DAYS] if (end - start).days < MAX_DAYS else []
    return [*allowed, *days]


def _day_label(daily: pd.DataFrame, start: date, end: date, conv: Any = None) -> Any:
    spend = daily.groupby("day")["cost_pusd"].sum()

    def label(option: date | str) -> str:
        if option == ALL_DAYS:
            return f"Every day, {fmt.day_text(start)} – {fmt.day_text(end)}"
        return f"{option:%a} {fmt.day_text(option)} · {tables.usd_text(spend.get(option, 0), conv)}"

    return label


def _pickers(
    daily: pd.DataFrame, start: date, end: date, conv: Any = None
) -> tuple[date, date, str, str, str]:
    """Day, model, user and order pickers; the busiest day is the default."""
    options = _day_options(daily, start, end)
    if st.session_state.get(DAY_KEY) not in options:
        by_day = daily.groupby("day")["cost_pusd"].sum()
        st.session_state[DAY_KEY] = by_day.idxmax() if not by_day.empty else options[0]
    models = [ALL_MODELS, *sorted(set(daily["model_id"]))]
    if st.session_state.get(MODEL_KEY) not in models:
        st.session_state[MODEL_KEY] = ALL_MODELS
    c_day, c_model, c_user, c_order = st.columns([2.1, 1.5, 1.3, 1.6])
    day = c_day.selectbox("Day", options, format_func=_day_label(daily, start, end, conv),
                          key=DAY_KEY, help="Most expensive day first picked; click a bar "
                          "on the Cost tab to open another.")  # fmt: skip
    model = c_model.selectbox("Model", models, key=MODEL_KEY,
                              format_func=lambda m: m or "Every model")  # fmt: skip
    user = c_user.text_input("User", key="usage_drill_user", placeholder="every user")
    order = c_order.selectbox("Order", list(ORDER_LABELS), format_func=ORDER_LABELS.get,
                              key="usage_drill_order")  # fmt: skip
    first, last = (start, end) if day == ALL_DAYS else (day, day)
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    return first, last, model, user.strip(), order


def _coverage(totals_requests: int, rolled_up: int) -> None:
    """Say when raw rows of the selection are gone (pruned) while its daily totals remain."""
    if rolled_up and not totals_requests:
        st.warning(
            f"The individual requests of this selection are no longer stored: raw rows are "
            f"kept for a limited time, while the daily totals ({plural(rolled_up, 'request')}) "
            "stay on the other tabs.",
            icon=":material/history:",
        )
    elif rolled_up > totals_requests:
        st.info(
            f"Only {totals_requests:,} of the {plural(rolled_up, 'request')} of this selection "
            "are still stored one by one; older raw rows were pruned. Totals below cover the "
            "stored ones.",
            icon=":material/history:",
        )


def requests_section(
    url: str, version: tuple, filters: Any, daily: pd.DataFrame, conv: Any = None
) -> None:
    """Top users and projects, then the requests themselves, a page at a time; money in the
    conversion's currency (a `core.currency.Conversion`; USD without one)."""
    if daily.empty:
        st.info("No requests for these filters.", icon=":material/info:")
        return
    first, last, model, user, order = _pickers(daily, filters.start, filters.end, conv)
    drill = Drill(
        first, last, model, filters.projects, filters.statuses, user,
        key_labels=filters.key_labels, teams=filters.teams,
        environments=filters.environments, tags=filters.tags,
    )  # fmt: skip
    totals, rolled_up, groups = load_drill(url, version, drill)
    if user and not totals.requests:
        st.info(f"No requests of user {fmt.escape_markdown(user)} in this selection (or their "
                "raw rows were pruned).", icon=":material/info:")  # fmt: skip
        return
    if not user:
        _coverage(totals.requests, rolled_up)
    if not totals.requests:
        if not rolled_up:
            st.info("No requests match this selection.", icon=":material/info:")
        return
    m = st.columns(4)
    m[0].metric("Requests", f"{totals.requests:,}", border=True)
    m[1].metric("Spend", tables.usd_text(totals.cost_pusd, conv), border=True)
    m[2].metric("Errors", f"{totals.errors:,}", border=True)
    m[3].metric("Tokens", fmt.tokens(totals.input_tokens + totals.output_tokens), border=True)
    left, right = st.columns(2)
    for where, column, label in ((left, "user", "User"), (right, "project", "Project")):
        where.markdown(f"**Top {label.lower()}s by spend**")
        where.dataframe(tables.group_table(groups[column], label, conv), hide_index=True,
                        column_config={"Requests": COUNT, "Errors": COUNT, "Tokens": COUNT},
                        key=f"usage_drill_top_{column}")  # fmt: skip
    _request_pages(url, version, drill, totals.requests, order, conv)


def _request_pages(
    url: str, version: tuple, drill: Drill, count: int, order: str, conv: Any = None
) -> None:
    """The requests, 50 to a page, with the page picker under the table."""
    pages = max(1, -(-count // PAGE_ROWS))
    if st.session_state.get(SHOWN_KEY) != (drill, order):  # a new selection starts on page 1
        st.session_state[SHOWN_KEY] = (drill, order)
        st.session_state.pop(PAGE_KEY, None)
    page = min(max(int(st.session_state.get(PAGE_KEY) or 1), 1), pages)
    st.markdown(f"**Requests** ({plural(count, 'request')}; no prompt or completion text is "
                "ever stored)")  # fmt: skip
    rows = load_requests(url, version, drill, page - 1, order)
    st.dataframe(tables.requests_table(rows, conv), hide_index=True, key="usage_drill_requests",
                 column_config={"Input tokens": COUNT, "Cached": COUNT, "Output tokens": COUNT,
                                "Status": st.column_config.NumberColumn(format="%d")})  # fmt: skip
    if pages > 1:
        st.session_state[PAGE_KEY] = page
        c_page, c_text = st.columns([1, 4], vertical_alignment="bottom")
        c_page.number_input("Page", min_value=1, max_value=pages, step=1, key=PAGE_KEY)
        first = (page - 1) * PAGE_ROWS + 1
        c_text.caption(f"Requests {first:,}–{min(first + PAGE_ROWS - 1, count):,} of {count:,}")
