"""Reconciliation charts and table: computed vs billed cost, per day and per model.

Money arrives as integer pico-dollars; it becomes float USD here, for display only. Models are
canonical ids; the full table shows the names the logs used beside each ("Logged as").
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.charts import (
    MONEY_FORMAT,
    Chart,
    day_tooltip,
    day_values,
    day_x,
    empty,
    money_hover,
    style,
    usd_float,
)

COMPUTED_COLOR = "#4C78A8"
BILLED_COLOR = "#F58518"
FLAG_COLOR = "#E45756"
COMPUTED = "Computed from logs"
FLAG = "Differs by more than the tolerance"
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


def by_day_frame(by_day: pd.DataFrame, provider: str = "OpenAI") -> pd.DataFrame:
    """One row per bar: each day's computed and billed USD, and whether a model differs."""
    days = day_values(by_day["day"]).reset_index(drop=True)
    flagged = (by_day["flagged"] > 0).reset_index(drop=True)
    sides = ((COMPUTED, "computed_pusd"), (f"Billed by {provider}", "billed_pusd"))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "day": days,
                    "series": name,
                    "usd": usd_float(by_day[column]).to_numpy(),
                    "flagged": flagged,
                }
            )
            for name, column in sides
        ],
        ignore_index=True,
    )


def flag_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """One marker per flagged day, a little above its taller bar."""
    flagged = bars[bars["flagged"]]
    tops = flagged.groupby("day", as_index=False)["usd"].max()
    return tops.assign(usd=tops["usd"] * 1.08, series=FLAG, note="at least one model differs")


def computed_vs_billed(by_day: pd.DataFrame, provider: str = "OpenAI") -> Chart:
    """Bars per day: Costdesk's computed cost beside the provider's billed cost (`provider` as
    shown, e.g. "Anthropic"); flagged days marked."""
    if by_day.empty:
        return empty(text="Nothing to compare yet")
    bars = by_day_frame(by_day, provider)
    names = [COMPUTED, f"Billed by {provider}", FLAG]
    color = alt.Color(
        "series:N",
        sort=names,
        scale=alt.Scale(domain=names, range=[COMPUTED_COLOR, BILLED_COLOR, FLAG_COLOR]),
    )
    y = alt.Y("usd:Q", title="USD", axis=alt.Axis(format=MONEY_FORMAT))
    hover = money_hover(bars["usd"])
    columns = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=day_x(),
            xOffset=alt.XOffset("series:N", sort=names),
            y=y,
            color=color,
            tooltip=[
                day_tooltip(),
                alt.Tooltip("series:N", title="Cost"),
                alt.Tooltip("usd:Q", title="USD", format=hover),
            ],
        )
    )
    marks = (
        alt.Chart(flag_frame(bars))
        .mark_point(shape="triangle-down", filled=True, size=110, opacity=1)
        .encode(
            x=day_x().bandPosition(0.5),
            y=y,
            color=color,
            tooltip=[day_tooltip(), alt.Tooltip("note:N", title="Flagged")],
        )
    )
    return style(alt.layer(columns, marks))


FLAGGED_COLUMNS = ["Day", "Model", "Computed", "Billed", "Difference %", "Likely cause"]


def table(rows: pd.DataFrame, *, flagged_only: bool = False) -> pd.DataFrame:
    """The reconciliation rows with USD floats and readable column names, for `st.dataframe`.

    `flagged_only` keeps the flagged rows and the columns needed to act on them.
    """
    shown = rows[rows["flagged"].astype(bool)] if flagged_only else rows
    out = shown.assign(
        computed_usd=usd_float(shown["computed_pusd"]),
        billed_usd=usd_float(shown["billed_pusd"]),
        diff_usd=usd_float(shown["diff_pusd"]),
        diff_share=shown["diff_share"].astype("float64"),
    )
    out = out[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS).reset_index(drop=True)
    return out[FLAGGED_COLUMNS] if flagged_only else out
