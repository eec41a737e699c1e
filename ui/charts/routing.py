"""Figures and display tables for the routing simulator and the plan-vs-actual waterfall.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.charts import figure_text, style
from ui.format import usd

BEFORE, AFTER = "#9DB4D3", "#2E7D5B"
UP, DOWN, TOTAL = "#E45756", "#54A24B", "#4C78A8"


def _floats(values: pd.Series) -> list[float]:
    return [float(v) if v is not None else 0.0 for v in values]


def before_after_chart(models: pd.DataFrame) -> go.Figure:
    """Per-model cost before and after the rules, side by side."""
    fig = go.Figure()
    for column, name, color in (
        ("baseline_usd", "Before", BEFORE),
        ("scenario_usd", "After", AFTER),
    ):
        fig.add_bar(
            x=models["model"].map(figure_text),
            y=_floats(models[column]),
            name=name,
            marker_color=color,
            text=[usd(v) for v in models[column]],
            textposition="outside",
            hovertemplate=f"{name}: $%{{y:,.2f}}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        yaxis={"title": "Cost in the period", "tickprefix": "$", "rangemode": "tozero"},
        hovermode="x unified",
    )
    return style(fig, height=380)


def waterfall_chart(table: pd.DataFrame) -> go.Figure:
    """Plan → volume, tokens per request, model mix, price → actual."""
    fig = go.Figure(
        go.Waterfall(
            x=table["step"],
            y=_floats(table["amount_usd"]),
            measure=["absolute" if m == "total" else "relative" for m in table["measure"]],
            text=[usd(v) for v in table["amount_usd"]],
            textposition="outside",
            increasing={"marker": {"color": UP}},
            decreasing={"marker": {"color": DOWN}},
            totals={"marker": {"color": TOTAL}},
            connector={"line": {"color": "#999999", "dash": "dot"}},
        )
    )
    fig.update_layout(yaxis={"title": "USD", "tickprefix": "$"}, showlegend=False)
    return style(fig, height=380)


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
    """Suggestion rows with floats for display."""
    shown = table.copy()
    for column in ("share_under", "savings_usd", "monthly_savings_usd"):
        shown[column] = _floats(shown[column])
    return shown


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
        "matched_requests": number("matched"),
        "requests_moved": number("moved", format="%.0f"),
        "requests_blocked": number(
            "too long for target", help="Prompts larger than the target's context window."
        ),
        "savings_usd": number("savings", format="$%.2f"),
        "monthly_savings_usd": number("savings / month", format="$%.2f"),
        "break_even_escalation": text(
            "break-even escalation",
            help="The escalation rate at which this rule's savings reach zero.",
        ),
        "tokens_moved": number("tokens moved", format="compact"),
        "requests_escalated": number("escalated", format="%.0f"),
        "requests_to_batch": number("to batch", format="%.0f"),
        "baseline_usd": number("before", format="$%.2f"),
        "scenario_usd": number("after", format="$%.2f"),
    }


def model_columns() -> dict[str, object]:
    """Column labels and formats for the per-model before/after table."""
    number = st.column_config.NumberColumn
    return {
        "requests_before": number("requests before", format="%.0f"),
        "requests_after": number("requests after", format="%.0f"),
        "baseline_usd": number("before", format="$%.2f"),
        "scenario_usd": number("after", format="$%.2f"),
    }


def suggestion_columns(threshold_tokens: int, period_days: int) -> dict[str, object]:
    """Column labels and formats for the suggestion table."""
    number = st.column_config.NumberColumn
    return {
        "model": st.column_config.TextColumn("premium model"),
        "requests_under": number(f"under {threshold_tokens:,} tokens"),
        "share_under": number("share under", format="percent"),
        "requests_blocked": number("too long for target"),
        "savings_usd": number(f"savings ({period_days} days)", format="$%.2f"),
        "monthly_savings_usd": number("savings / month", format="$%.2f"),
    }
