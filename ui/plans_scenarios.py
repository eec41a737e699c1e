"""The calculator's Scenarios tab: save (asking before replacing), load, delete, compare, export."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.plans import (
    ASSUMPTION_COLUMNS,
    RESULT_COLUMNS,
    PlanCost,
    PlanError,
    Workload,
    differing_assumptions,
    plan_from_params,
    scenario_frame,
)
from core.pricing import PriceBook, Unpriced
from db.scenarios import Scenario, delete_scenario, list_scenarios, load_scenario
from ui import format as fmt
from ui.auth import actor, can
from ui.charts import draw
from ui.charts import plans as charts
from ui.plans_resources import (
    column_config,
    export_csv,
    export_xlsx,
    for_display,
    scenario_params,
    state_from_params,
)
from ui.resources import engine
from ui.saving import save_asking

# On the page the headline results come first, then every assumption, then the cost split.
SHOWN_ORDER = (
    "scenario",
    "model",
    "monthly_usd",
    "yearly_usd",
    *[c for c in ASSUMPTION_COLUMNS if c not in ("scenario", "model")],
    *[c for c in RESULT_COLUMNS if c not in ("monthly_usd", "yearly_usd")],
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LABELS = {
    "provider": "provider",
    "model": "model",
    "pricing_date": "pricing date",
    "requests_per_day": "requests per day",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "max_output_tokens": "max_tokens cap",
    "cache_hit_share": "cache-hit share",
    "batch_share": "batch share",
    "growth_monthly_share": "growth",
    "days_per_month": "days per month",
    "months": "horizon",
}


def _load(name: str, options: list[str], book: PriceBook) -> None:
    """Put a saved scenario's values into the inputs (a message says how it went)."""
    shown = fmt.escape_markdown(name)
    scenario = load_scenario(engine(), name)
    if scenario is None:
        st.session_state["calc_flash"] = f"Scenario {shown} no longer exists."
        return
    try:
        values = state_from_params(scenario.params, options, book)
    except (PlanError, ValueError) as exc:
        st.session_state["calc_flash"] = f"Could not load {shown}: {fmt.escape_markdown(exc)}"
        return
    st.session_state.update(values)
    st.session_state["calc_flash"] = f"Loaded scenario “{shown}”."


def _delete(name: str) -> None:
    if delete_scenario(engine(), name, actor=actor()):
        st.session_state["calc_flash"] = f"Deleted scenario “{fmt.escape_markdown(name)}”."


def _save_form() -> None:
    """Name and save the current plan; a name in use is replaced only when confirmed."""
    c = st.columns([3, 1], vertical_alignment="bottom")
    name = c[0].text_input("Scenario name", key="calc_scn_name", placeholder="e.g. Launch, gpt-4o")
    clicked = c[1].button(
        "Save scenario",
        key="calc_scn_save",
        width="stretch",
        disabled=not can("scenario.save"),
        help=None if can("scenario.save") else "Saving scenarios needs editor rights.",
    )
    saved = save_asking(
        "calc_scn", name=name, params=scenario_params(), kind="plan", clicked=clicked
    )
    if saved is not None:
        st.success(f"Saved scenario “{fmt.escape_markdown(saved.name)}”.")


def _priced(
    chosen: list[str], scenarios: list[Scenario], book: PriceBook
) -> list[tuple[str, Workload, PlanCost]]:
    """The chosen scenarios with their workloads and costs; unpriced ones are reported."""
    by_name = {sc.name: sc for sc in scenarios}
    rows, unpriced = [], []
    for name in chosen:
        plan = plan_from_params(by_name[name].params, book)
        if isinstance(plan, Unpriced):
            unpriced.append(name)
        else:
            rows.append((name, Workload.from_params(by_name[name].params), plan))
    if unpriced:
        st.warning(f"Not priced any more, left out: {fmt.names_text(unpriced)}.")
    return rows


def _comparison(frame: pd.DataFrame) -> None:
    """What differs, the table with every assumption, the chart and the downloads."""
    differ = [LABELS.get(c, c) for c in differing_assumptions(frame)]
    cheapest = frame.loc[frame["monthly_usd"].idxmin()]
    st.markdown(
        f"**{fmt.escape_markdown(cheapest['scenario'])}** costs least, "
        f"{fmt.usd(cheapest['monthly_usd'])} a month. "
        + (
            f"The scenarios differ in {', '.join(differ)}; every other assumption is the same."
            if differ
            else "Their assumptions are the same."
        )
    )
    shown = for_display(frame)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config=column_config(),
        column_order=[c for c in SHOWN_ORDER if c in shown],
    )
    draw(charts.scenarios_chart(frame), key="calc_scenarios_chart")
    d = st.columns(2)
    d[0].download_button(
        "Download CSV",
        export_csv(frame),
        "costdesk-scenarios.csv",
        "text/csv",
        key="calc_dl_csv",
        width="stretch",
    )
    d[1].download_button(
        "Download Excel",
        export_xlsx(frame),
        "costdesk-scenarios.xlsx",
        XLSX,
        key="calc_dl_xlsx",
        width="stretch",
    )


def scenarios_tab(options: list[str], book: PriceBook, today: date) -> None:
    """Save the plan, load or delete saved ones, compare two to four side by side."""
    _save_form()
    scenarios = list_scenarios(engine())
    names = [sc.name for sc in scenarios]
    if not scenarios:
        st.info("No saved scenarios yet. Name this plan and save it; save two or more to compare.")
        return
    c = st.columns([3, 1, 1], vertical_alignment="bottom")
    pick = c[0].selectbox("Saved scenario", names, key="calc_scn_pick")
    c[1].button(
        "Load", key="calc_scn_load", on_click=_load, args=(pick, options, book), width="stretch"
    )
    c[2].button(
        "Delete",
        key="calc_scn_delete",
        on_click=_delete,
        args=(pick,),
        width="stretch",
        disabled=not can("scenario.delete"),
    )
    state = st.session_state
    if "calc_scn_compare" in state:  # forget deleted scenarios; a link's selection is kept
        state["calc_scn_compare"] = [n for n in state["calc_scn_compare"] if n in names]
    chosen = st.multiselect(
        "Compare 2 to 4 scenarios",
        names,
        key="calc_scn_compare",
        max_selections=4,
        bind="query-params",
    )
    priced = _priced(chosen, scenarios, book)
    if len(priced) < 2:
        st.caption("Pick at least two scenarios to compare them side by side.")
        return
    _comparison(scenario_frame(priced, today))
