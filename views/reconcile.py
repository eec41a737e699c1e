"""Reconciliation: Costdesk's computed cost of the logged calls vs what OpenAI billed."""

from datetime import date

import streamlit as st

from db.engine import database_url, make_engine
from db.reconcile import Reconciliation, imported_range, reconcile
from ui import format as fmt
from ui.charts import reconcile as charts
from ui.openai_import import import_panel
from ui.resources import config, price_book

TABLE_CONFIG = {
    "Computed": st.column_config.NumberColumn(format="$%.4f"),
    "Billed": st.column_config.NumberColumn(format="$%.4f"),
    "Difference": st.column_config.NumberColumn(format="$%.4f"),
    "Difference %": st.column_config.NumberColumn(format="percent"),
    "Likely cause": st.column_config.TextColumn(width="large"),
    "Logged as": st.column_config.TextColumn(help="The names the request logs used for it."),
}


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_span(url: str) -> tuple[date, date] | None:
    """First and last imported day."""
    return imported_range(make_engine(url))


@st.cache_data(ttl=60, max_entries=32, show_spinner="Comparing computed and billed cost…")
def load_reconciliation(url: str, start: date, end: date, tolerance: float) -> Reconciliation:
    """The reconciliation table for one range and tolerance."""
    return reconcile(make_engine(url), price_book(), start, end, tolerance_share=tolerance)


def empty_state() -> None:
    """Nothing imported yet: say how to get data."""
    st.info(
        "Nothing to reconcile yet. Import OpenAI's own usage and billed costs with the button "
        "above (it needs an organization admin key in `OPENAI_ADMIN_KEY`), or from a terminal:",
        icon=":material/info:",
    )
    st.code("OPENAI_ADMIN_KEY=sk-admin-... python cli.py import-openai --days 30", language="bash")
    st.caption(
        "Request logs to compare against come from Upload, `cli.py ingest` or the SDK wrapper."
    )


def summary(result: Reconciliation) -> None:
    """Headline figures."""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Computed from logs", fmt.usd(result.computed_usd))
    c2.metric("Billed by OpenAI", fmt.usd(result.billed_usd))
    c3.metric("Difference", fmt.usd(result.computed_usd - result.billed_usd))
    c4.metric("Day × model rows flagged", f"{result.flagged:,}")


st.title("Reconciliation")
st.caption(
    "Costdesk's computed cost of your logged calls against what OpenAI billed, per UTC day and "
    "model (a dated snapshot counts as its model). Rows that differ by more than the tolerance "
    "are flagged with the likely cause."
)
url = database_url(config("COSTDESK_DATABASE_URL"))
import_panel(url, prefix="reconcile")
span = load_span(url)
if span is None:
    empty_state()
    st.stop()

with st.form("reconcile_filters", border=False):
    c_dates, c_tol, c_apply = st.columns([2, 1, 0.6], vertical_alignment="bottom")
    picked = c_dates.date_input("Dates (UTC)", value=span, key="reconcile_dates")
    tolerance_pct = c_tol.number_input(
        "Tolerance %", min_value=0.0, max_value=50.0, value=2.0, step=0.5, key="reconcile_tolerance"
    )
    c_apply.form_submit_button("Apply", key="reconcile_apply")
days = [d for d in (picked if isinstance(picked, (tuple, list)) else [picked]) if d] or [span[0]]
result = load_reconciliation(url, days[0], days[-1], tolerance_pct / 100)
if result.is_empty:
    st.info("No logged calls, usage or billed cost in these dates. Widen the range.")
    st.stop()
summary(result)
st.plotly_chart(charts.computed_vs_billed(result.by_day()), key="reconcile_chart")
flagged = charts.table(result.rows, flagged_only=True)
if flagged.empty:
    st.success(f"Every day and model is within {tolerance_pct:g} % of the bill.")
else:
    st.subheader(f"Differences over {tolerance_pct:g} %")
    st.dataframe(flagged, column_config=TABLE_CONFIG, hide_index=True, key="reconcile_flagged")
if st.toggle(f"Show all {len(result.rows):,} rows", key="reconcile_show_all"):
    st.dataframe(
        charts.table(result.rows), column_config=TABLE_CONFIG, hide_index=True, key="reconcile_all"
    )
