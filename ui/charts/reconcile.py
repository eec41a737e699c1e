"""Reconciliation figures and table: computed vs billed cost, per day and per model.

Money arrives as integer pico-dollars; it becomes float USD here, for display only. Models are
canonical ids; the full table shows the names the logs used beside each ("Logged as").
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import style

PICOS_PER_USD = 1e12
COMPUTED_COLOR = "#4C78A8"
BILLED_COLOR = "#F58518"
FLAG_COLOR = "#E45756"
DAY_MS = 86_400_000  # one tick per day on short ranges
TABLE_COLUMNS = {
    "day": "Day",
    "model": "Model",
    "logged_as": "Logged as",
    "logged_requests": "Logged calls",
    "usage_requests": "OpenAI calls",
    "computed_usd": "Computed",
    "billed_usd": "Billed",
    "diff_usd": "Difference",
    "diff_share": "Difference %",
    "flagged": "Flagged",
    "cause": "Likely cause",
}


def _usd(picos: pd.Series) -> pd.Series:
    return picos.astype("float64") / PICOS_PER_USD


def computed_vs_billed(by_day: pd.DataFrame) -> go.Figure:
    """Bars per day: Costdesk's computed cost beside OpenAI's billed cost; flagged days marked."""
    fig = go.Figure()
    if by_day.empty:
        fig.add_annotation(text="Nothing to compare yet", showarrow=False, font={"size": 14})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return style(fig, height=240)
    computed, billed = _usd(by_day["computed_pusd"]), _usd(by_day["billed_pusd"])
    fig.add_bar(x=by_day["day"], y=computed, name="Computed from logs", marker_color=COMPUTED_COLOR)
    fig.add_bar(x=by_day["day"], y=billed, name="Billed by OpenAI", marker_color=BILLED_COLOR)
    flagged = by_day["flagged"] > 0
    fig.add_scatter(
        x=by_day.loc[flagged, "day"],
        y=pd.concat([computed, billed], axis=1).max(axis=1)[flagged] * 1.08,
        mode="markers",
        marker={"symbol": "triangle-down", "size": 11, "color": FLAG_COLOR},
        name="Differs by more than the tolerance",
        hovertemplate="%{x}: at least one model differs<extra></extra>",
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickformat="%b %d", dtick=DAY_MS if len(by_day) <= 14 else None)
    fig.update_yaxes(title="USD", tickprefix="$")
    return style(fig)


FLAGGED_COLUMNS = ["Day", "Model", "Computed", "Billed", "Difference %", "Likely cause"]


def table(rows: pd.DataFrame, *, flagged_only: bool = False) -> pd.DataFrame:
    """The reconciliation rows with USD floats and readable column names, for `st.dataframe`.

    `flagged_only` keeps the flagged rows and the columns needed to act on them.
    """
    shown = rows[rows["flagged"].astype(bool)] if flagged_only else rows
    out = shown.assign(
        computed_usd=_usd(shown["computed_pusd"]),
        billed_usd=_usd(shown["billed_pusd"]),
        diff_usd=_usd(shown["diff_pusd"]),
        diff_share=shown["diff_share"].astype("float64"),
    )
    out = out[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS).reset_index(drop=True)
    return out[FLAGGED_COLUMNS] if flagged_only else out
