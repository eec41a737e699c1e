"""Reconciliation: Costdesk's computed cost of the logged calls vs what a provider billed."""

import streamlit as st

from db.engine import database_url
from db.reconcile import Reconciliation, provider_name
from ui import format as fmt
from ui.charts import draw
from ui.charts import reconcile as charts
from ui.openai_import import PROVIDERS, import_panel, show_flash
from ui.reconcile import (
    SOURCE_NAMES,
    empty_state,
    load_reconciliation,
    load_sources,
    load_span,
)
from ui.resources import config

TABLE_CONFIG = {
    "Computed": st.column_config.NumberColumn(format="$%.4f"),
    "Billed": st.column_config.NumberColumn(format="$%.4f"),
    "Difference": st.column_config.NumberColumn(format="$%.4f"),
    "Difference %": st.column_config.NumberColumn(format="percent"),
    "Likely cause": st.column_config.TextColumn(width="large"),
    "Logged as": st.column_config.TextColumn(help="The names the request logs used for it."),
}


def summary(result: Reconciliation, name: str) -> None:
    """Headline figures."""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Computed from logs", fmt.usd(result.computed_usd))
    c2.metric(f"Billed by {name}", fmt.usd(result.billed_usd))
    c3.metric("Difference", fmt.usd(result.computed_usd - result.billed_usd))
    c4.metric("Day × model rows flagged", f"{result.flagged:,}")


st.title("Reconciliation")
st.caption(
    "Costdesk's computed cost of your logged calls against what a provider billed, per UTC day "
    "and model (a dated snapshot counts as its model). Rows that differ by more than the "
    "tolerance are flagged with the likely cause."
)
url = database_url(config("COSTDESK_DATABASE_URL"))
show_flash("reconcile")
sources = load_sources(url)
choices = list(PROVIDERS) + [p for p in sources if p not in PROVIDERS]
provider = st.segmented_control(
    "Provider", choices, default=choices[0], format_func=provider_name, key="reconcile_provider"
) or choices[0]  # fmt: skip
name = fmt.escape_markdown(provider_name(provider))
if provider in PROVIDERS:
    import_panel(url, prefix="reconcile", provider=provider)
    sources = load_sources(url)  # an import just now cleared the cache: what it stored
span = load_span(url, provider)
if span is None:
    empty_state(url, provider)
    st.stop()

with st.form("reconcile_filters", border=False):
    c_dates, c_source, c_tol, c_apply = st.columns([2, 1.6, 1, 0.6], vertical_alignment="bottom")
    picked = c_dates.date_input("Dates (UTC)", value=span, key="reconcile_dates")
    counted = sources.get(provider) or [None]
    source = c_source.selectbox(
        "Usage counted by", counted, key="reconcile_source", disabled=len(counted) < 2,
        format_func=lambda s: SOURCE_NAMES.get(s, s) if s else "no usage imported",
    )  # fmt: skip
    tolerance_pct = c_tol.number_input(
        "Tolerance %", min_value=0.0, max_value=50.0, value=2.0, step=0.5, key="reconcile_tolerance"
    )
    c_apply.form_submit_button("Apply", key="reconcile_apply")
days = [d for d in (picked if isinstance(picked, (tuple, list)) else [picked]) if d] or [span[0]]
result = load_reconciliation(url, provider, source, days[0], days[-1], tolerance_pct / 100)
if result.is_empty:
    st.info("No logged calls, usage or billed cost in these dates. Widen the range.")
    st.stop()
summary(result, name)
draw(charts.computed_vs_billed(result.by_day(), provider_name(provider)), key="reconcile_chart")
renamed = {"OpenAI calls": f"{provider_name(provider)} calls"}
flagged = charts.table(result.rows, flagged_only=True)
if flagged.empty:
    st.success(f"Every day and model is within {tolerance_pct:g} % of the bill.")
else:
    st.subheader(f"Differences over {tolerance_pct:g} %")
    st.dataframe(flagged, column_config=TABLE_CONFIG, hide_index=True, key="reconcile_flagged")
if st.toggle(f"Show all {len(result.rows):,} rows", key="reconcile_show_all"):
    everything = charts.table(result.rows).rename(columns=renamed)
    st.dataframe(everything, column_config=TABLE_CONFIG, hide_index=True, key="reconcile_all")
