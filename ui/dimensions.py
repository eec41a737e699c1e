"""Who spent it on the Usage page: the dimension filters and the "Group by" table.

The filters are multiselects over what the daily rollup holds (key labels, teams,
environments, tags); the table splits the filtered spend by one dimension
(`db.queries.attribution`), with requests that name none as the unallocated line and a day's
users beyond the top `core.rollups.TOP_USERS` summed as "other users".
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.attribution import label
from core.costs import picos_to_usd
from core.currency import Conversion
from core.rollups import OTHER_USERS, TOP_USERS
from db import queries
from db.queries.attribution import DIMENSIONS, dimension
from ui import format as fmt

OTHER_LABEL = f"other users (beyond each day's top {TOP_USERS})"
GROUPS = tuple(DIMENSIONS)
UNAPPLIED_NOTE = (
    "Latency and output-size charts are kept per model, project and status only: the key, "
    "team, environment and tag filters do not narrow them."
)


def filter_row(values: queries.FilterValues) -> dict[str, tuple[str, ...]]:
    """Key, team, environment and tag multiselects (inside the page's filter form)."""
    cols = st.columns(4)
    shown = {
        "key_labels": ("API keys", values.key_labels, "All keys"),
        "teams": ("Teams", values.teams, "All teams"),
        "environments": ("Environments", values.environments, "All environments"),
        "tags": ("Tags", values.tags, "All tags"),
    }
    chosen = {}
    for col, (name, (title, options, everything)) in zip(cols, shown.items(), strict=True):
        chosen[name] = tuple(
            col.multiselect(title, options, key=f"usage_{name}", placeholder=everything,
                            format_func=lambda v: v or "(none)")
        )  # fmt: skip
    return chosen


def group_label(value: str) -> str:
    """A dimension's name as shown in the Group by choice."""
    return dimension(value).label


def spend_table(frame: pd.DataFrame, group: str, conv: Conversion | None = None) -> pd.DataFrame:
    """One line per value of `group`: requests, tokens and cost in USD (or the conversion's
    currency), most expensive first, unallocated (and other users) last."""
    conv = conv or Conversion()
    if frame.empty:
        return pd.DataFrame(columns=["Value", "Requests", "Input tokens", "Output tokens", "Cost"])
    out = pd.DataFrame(
        {
            "Value": [OTHER_LABEL if v == OTHER_USERS else label(v) for v in frame[group]],
            "Requests": frame["requests"].astype(int),
            "Input tokens": frame["input_tokens"].astype(int),
            "Output tokens": frame["output_tokens"].astype(int),
            "Cost": [float(conv.amount(picos_to_usd(int(p)))) for p in frame["cost_pusd"]],
            "_last": [v in ("", OTHER_USERS) for v in frame[group]],
            "_pusd": [int(p) for p in frame["cost_pusd"]],
        }
    )
    out = out.sort_values(["_last", "_pusd", "Value"], ascending=[True, False, True])
    return out.drop(columns=["_last", "_pusd"]).reset_index(drop=True)


def group_section(view: Any) -> None:
    """The filtered spend split by the chosen dimension."""
    from ui.currency import rate_caption
    from ui.resources import load_spend_by

    group = view.group_by
    st.subheader(f"Spend by {group_label(group).lower()}")
    if group == "tag":
        st.caption("A request counts under each of its tags, so lines may add up to more than "
                   "the total; untagged requests are 'unallocated'.")  # fmt: skip
    elif group.startswith("tag:"):
        st.caption(f"The value of each request's `{fmt.escape_markdown(group[4:])}=` tag.")
    conv = view.conversion
    table = spend_table(load_spend_by(view.url, view.version, group, view.filters), group, conv)
    column, shown = "Cost", "dollar"
    if conv.converted:  # the currency in the header, so a downloaded table says it too
        column, shown = f"Cost ({conv.currency})", f"%,.2f {conv.currency}"
        table = table.rename(columns={"Cost": column})
    cost = st.column_config.NumberColumn(format=shown)
    st.dataframe(table, hide_index=True, key="usage_group_table", column_config={column: cost})
    rate_caption(conv)
    if any((view.filters.key_labels, view.filters.teams, view.filters.environments,
            view.filters.tags)):  # fmt: skip
        st.caption(UNAPPLIED_NOTE)
