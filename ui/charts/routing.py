"""Figures and display tables for the routing simulator and the plan-vs-actual waterfall.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.charts import figure_text, style
from ui.charts.axes import money_axis
from ui.format import usd

BEFORE, AFTER = "#4C78A8", "#F58518"
UP, DOWN, TOTAL = "#E45756", "#54A24B", "#4C78A8"
MONEY, COUNT = "$%,.2f", "%,.0f"


def _floats(values: pd.Series) -> list[float]:
    return [float(v) if v is not None else 0.0 for v in values]


def before_after_chart(models: pd.DataFrame) -> go.Figure:
    """Per-model cost before and after the rules, side by side, dearest model on top, each
    bar labelled with its amount."""
    rows = models.iloc[::-1]
    names = rows["model"].map(figure_text)
    fig = go.Figure()
    for column, name, color in (
        ("scenario_usd", "After", AFTER),
        ("baseline_usd", "Before", BEFORE),
    ):
        fig.add_bar(
            y=names,
            x=_floats(rows[column]),
            name=name,
            orientation="h",
            marker_color=color,
            text=[usd(v) for v in rows[column]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=f"%{{y}} {name.lower()}: $%{{x:,.2f}}<extra></extra>",
        )
    values = _floats(models["baseline_usd"]) + _floats(models["scenario_usd"])
    fig.update_layout(
        barmode="group",
        xaxis=money_axis(values, headroom=True, title="Cost in the period"),
        yaxis={"categoryorder": "array", "categoryarray": list(names)},
        legend={"traceorder": "reversed"},
        hovermode="y unified",
    )
    return style(fig, height=max(260, 48 * len(rows) + 90))


def waterfall_chart(table: pd.DataFrame) -> go.Figure:
    """Plan → volume, tokens per request, model mix, price → actual."""
    fig = go.Figure(
        go.Waterfall(
            x=table["step"],
            y=_floats(table["amount_usd"]),
            measure=["absolute" if m == "total" else "relative" for m in table["measure"]],
            text=[usd(v) for v in table["amount_usd"]],
            textposition="outside",
            cliponaxis=False,
            increasing={"marker": {"color": UP}},
            decreasing={"marker": {"color": DOWN}},
            totals={"marker": {"color": TOTAL}},
            connector={"line": {"color": "#999999", "dash": "dot"}},
        )
    )
    fig.update_layout(
        yaxis=money_axis(_levels(table), headroom=True, title="USD"), showlegend=False
    )
    return style(fig, height=380)


def _levels(table: pd.DataFrame) -> list[float]:
    """The height the waterfall reaches at each step (totals, then running sums)."""
    levels, level = [], 0.0
    for amount, measure in zip(_floats(table["amount_usd"]), table["measure"], strict=True):
        level = amount if measure == "total" else level + amount
        levels.append(level)
    return levels


RULE_FIRST = (
    "rule",
    "description",
    "matched_requests",
    "requests_moved",
    "requests_blocked",
    "savings_usd",
    "monthly_savings_usd",
    "break_even_escalation",
)


def rule_display(table: pd.DataFrame) -> pd.DataFrame:
    """The per-rule table with floats for sorting and a readable break-even column."""
    shown = table.copy()
    for column in (
        "requests_moved",
        "tokens_moved",
        "requests_escalated",
        "requests_to_batch",
        "baseline_usd",
        "scenario_usd",
        "savings_usd",
        "monthly_savings_usd",
    ):
        shown[column] = _floats(shown[column])
    shown["break_even_escalation"] = [
        "—" if v is None else ("never saves" if v <= 0 else f"{float(v) * 100:.1f} %")
        for v in table["break_even_escalation"]
    ]
    return shown[[*RULE_FIRST, *[c for c in shown.columns if c not in RULE_FIRST]]]


def suggestion_display(table: pd.DataFrame) -> pd.DataFrame:
    """Suggestion rows, biggest saving first, with floats for display (shares in percent)."""
    shown = table.copy()
    for column in ("savings_usd", "monthly_savings_usd"):
        shown[column] = _floats(shown[column])
    shown["share_under"] = [v * 100 for v in _floats(shown["share_under"])]
    return shown.sort_values("monthly_savings_usd", ascending=False, kind="stable")


def models_display(models: pd.DataFrame) -> pd.DataFrame:
    """Per-model before/after with floats for display."""
    shown = models.copy()
    for column in ("requests_before", "requests_after", "baseline_usd", "scenario_usd"):
        shown[column] = _floats(shown[column])
    return shown


def rule_columns() -> dict[str, object]:
    """Column labels and formats for the per-rule table (Streamlit column config)."""
    number, text = st.column_config.NumberColumn, st.column_config.TextColumn
    return {
        "rule": number("#", width="small"),
        "description": text("rule", width="medium"),
        "matched_requests": number(
            "matched", format=COUNT, help="Requests this rule takes (the first match wins)."
        ),
        "requests_moved": number(
            "moved", format=COUNT, help="Matched requests sent to the target model."
        ),
        "requests_blocked": number(
            "too long for target",
            format=COUNT,
            help="Matched requests whose prompts are larger than the target's context window: "
            "they stay on their model.",
        ),
        "savings_usd": number("savings", format=MONEY),
        "monthly_savings_usd": number("savings / month", format=MONEY),
        "break_even_escalation": text(
            "break-even escalation",
            help="The escalation rate at which this rule's savings reach zero: if more routed "
            "calls than this fail and are re-run, the rule costs money.",
        ),
        "tokens_moved": number("tokens moved", format="compact"),
        "requests_escalated": number(
            "escalated", format=COUNT, help="Routed calls re-run on the original model."
        ),
        "requests_to_batch": number("to batch", format=COUNT),
        "baseline_usd": number("before", format=MONEY),
        "scenario_usd": number("after", format=MONEY),
    }


def model_columns() -> dict[str, object]:
    """Column labels and formats for the per-model before/after table."""
    number = st.column_config.NumberColumn
    return {
        "model": st.column_config.TextColumn("model"),
        "requests_before": number("requests before", format=COUNT),
        "requests_after": number("requests after", format=COUNT),
        "baseline_usd": number("before", format=MONEY),
        "scenario_usd": number("after", format=MONEY),
    }


def suggestion_columns(threshold_tokens: int, period_days: int) -> dict[str, object]:
    """Column labels and formats for the suggestion table."""
    number = st.column_config.NumberColumn
    return {
        "model": st.column_config.TextColumn("premium model"),
        "requests": number("requests", format=COUNT),
        "requests_under": number(f"under {threshold_tokens:,} tokens", format=COUNT),
        "share_under": number("share under", format="%.1f %%"),
        "requests_blocked": number(
            "too long for target",
            format=COUNT,
            help="Prompts larger than the cheaper model's context window: they cannot move.",
        ),
        "savings_usd": number(f"savings ({period_days} days)", format=MONEY),
        "monthly_savings_usd": number("savings / month", format=MONEY),
    }
