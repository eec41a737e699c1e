"""Chargeback: each cost centre's spend for a month, its share, and the change on the month before."""

from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from core.attribution import Chargeback
from core.currency import Conversion, money_text
from core.forecast import month_bounds
from db.engine import database_url, make_engine
from db.queries.attribution import DIMENSIONS, data_span, month_chargeback
from ui.charts import draw
from ui.charts.chargeback import centres_figure
from ui.currency import display_conversion, rate_caption
from ui.reports import chargeback_html, csv_download, display_frame, excel_download, month_name
from ui.resources import config

FORMATS = {"dollar": "USD", "euro": "EUR", "yen": "JPY"}


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_span(url: str) -> tuple[date | None, date | None]:
    """First and last day with stored spend."""
    return data_span(make_engine(url))


@st.cache_data(ttl=60, max_entries=32, show_spinner="Adding up each cost centre…")
def load_chargeback(url: str, dimension: str, month: date, conversion: Conversion) -> Chargeback:
    """One month by one dimension, in the conversion's currency."""
    return month_chargeback(make_engine(url), dimension, month, conversion)


def months_between(first: date, last: date) -> list[date]:
    """First days of the months from `last`'s back to `first`'s, newest first."""
    periods = pd.period_range(first, last, freq="M")[::-1]
    return [p.start_time.date() for p in periods]


def money_format(currency: str) -> str:
    """A column format showing the currency's figures to the cent."""
    return next((name for name, code in FORMATS.items() if code == currency), "accounting")


def table_config(cb: Chargeback, label: str) -> dict:
    """Column headers and formats of the page's table."""
    shown = money_format(cb.conversion.currency)
    code = cb.conversion.currency
    return {
        "Cost centre": st.column_config.TextColumn(label),
        "Spend": st.column_config.NumberColumn(f"Spend ({code})", format=shown),
        "Share": st.column_config.NumberColumn(format="percent"),
        "Previous month": st.column_config.NumberColumn(
            f"{month_name(cb.previous_month)} ({code})", format=shown
        ),
        "Change": st.column_config.NumberColumn(f"Change ({code})", format=shown),
        "Change %": st.column_config.NumberColumn(format="percent"),
    }


def summary(cb: Chargeback) -> None:
    """The month's spend, the month before and the change."""
    code = cb.conversion.currency
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Spend, {month_name(cb.month)}", money_text(cb.total_cents, code))
    c2.metric(f"Spend, {month_name(cb.previous_month)}", money_text(cb.previous_total_cents, code))
    change = cb.change_share
    c3.metric(
        "Change",
        ("+" if cb.change_cents > 0 else "") + money_text(cb.change_cents, code),
        delta=None if change is None else f"{float(change) * 100:+.1f} %",
        delta_color="inverse",
    )


def downloads(cb: Chargeback, label: str) -> None:
    """CSV, Excel and the printable monthly report."""
    name = f"chargeback-{cb.dimension}-{cb.month:%Y-%m}"
    d1, d2, d3 = st.columns(3)
    d1.download_button("CSV", csv_download(cb), f"{name}.csv", "text/csv", key="chargeback_csv")
    d2.download_button(
        "Excel", excel_download(cb), f"{name}.xlsx", key="chargeback_xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )  # fmt: skip
    report = chargeback_html(cb, label, datetime.now(UTC).date())
    d3.download_button(
        "Printable report", report.encode(), f"{name}.html", "text/html", key="chargeback_html"
    )


st.title("Chargeback")
st.caption(
    "Each cost centre's spend for a month, its share, and the change on the month before. "
    "Spend whose requests name no value for the chosen dimension is its own *unallocated* "
    "line, never spread over the others."
)
url = database_url(config("COSTDESK_DATABASE_URL"))
first, last = load_span(url)
if first is None or last is None:
    st.info("No spend stored yet: upload logs, or run `python cli.py demo` for demo data.")
    st.stop()

months = months_between(first, last)
complete = [m for m in months if month_bounds(m)[1] <= last]
c_month, c_dim = st.columns(2)
month = c_month.selectbox(
    "Month", months, index=months.index(complete[0]) if complete else 0,
    format_func=month_name, key="chargeback_month",
)  # fmt: skip
dimension = c_dim.selectbox(
    "Cost centre", list(DIMENSIONS), index=list(DIMENSIONS).index("project"),
    format_func=lambda d: DIMENSIONS[d].label, key="chargeback_dimension",
)  # fmt: skip
label = DIMENSIONS[dimension].label
conversion = display_conversion(month_bounds(month)[1])
cb = load_chargeback(url, dimension, month, conversion)
if cb.table.empty:
    st.info(f"No spend in {month_name(month)} or the month before.")
    st.stop()
if month_bounds(month)[1] > last:
    st.caption(f"{month_name(month)} is not over: stored spend runs to {last:%d %b %Y}.")
if cb.previous_month < first <= month_bounds(cb.previous_month)[1]:
    st.caption(
        f"Stored spend starts on {first:%d %b %Y}: {month_name(cb.previous_month)} is partial."
    )

summary(cb)
rate_caption(conversion)
frame = display_frame(cb)
chart = frame.assign(unallocated=cb.table["unallocated"].to_numpy())
draw(centres_figure(chart, cb.conversion.currency), key="chargeback_chart")
st.dataframe(frame, hide_index=True, column_config=table_config(cb, label), key="chargeback_table")
downloads(cb, label)
