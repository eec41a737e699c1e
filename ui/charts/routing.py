"""Charts and display tables for the routing simulator and the plan-vs-actual waterfall.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ui.charts import Chart, floats, style
from ui.charts.axes import money_axis
from ui.format import usd

BEFORE, AFTER = "#4C78A8", "#F58518"
UP, DOWN, TOTAL = "#E45756", "#54A24B", "#4C78A8"
MONEY, COUNT = "$%,.2f", "%,.0f"
HOVER = "$,.2f"
SIDES = ("Before", "After")
KINDS = {"total": TOTAL, "increase": UP, "decrease": DOWN}


def before_after_frame(models: pd.DataFrame) -> pd.DataFrame:
    """One row per bar: each model's cost before and after the rules, with its label."""
    frames = [
        pd.DataFrame(
            {
                "model": models["model"].astype(str).to_numpy(),
                "side": side,
                "usd": floats(models[column]),
                "label": [usd(v) for v in models[column]],
            }
        )
        for side, column in zip(SIDES, ("baseline_usd", "scenario_usd"), strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def before_after_chart(models: pd.DataFrame) -> Chart:
    """Per-model cost before and after the rules, side by side, dearest model on top, each
    bar labelled with its amount."""
    frame = before_after_frame(models)
    order = list(dict.fromkeys(frame["model"]))
    y = alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    offset = alt.YOffset("side:N", sort=list(SIDES))
    base = alt.Chart(frame).encode(
        y=y,
        yOffset=offset,
        x=alt.X("usd:Q", **money_axis(frame["usd"], headroom=True, title="Cost in the period")),
        tooltip=[
            alt.Tooltip("model:N", title="Model"),
            alt.Tooltip("side:N", title="Rules"),
            alt.Tooltip("usd:Q", title="Cost", format=HOVER),
        ],
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "side:N", scale=alt.Scale(domain=list(SIDES), range=[BEFORE, AFTER]), sort=list(SIDES)
        )
    )
    labels = base.mark_text(align="left", baseline="middle", dx=4, fontSize=11).encode(
        text="label:N"
    )
    return style(alt.layer(bars, labels), height=max(260, 48 * len(order) + 90))


def waterfall_frame(table: pd.DataFrame) -> pd.DataFrame:
    """One row per bar: where it starts and ends (totals from zero, each effect from the level
    the step before reached), its kind, its label and the next step (for the connector)."""
    rows, level = [], 0.0
    for step, measure, amount in zip(
        table["step"], table["measure"], floats(table["amount_usd"]), strict=True
    ):
        start = 0.0 if measure == "total" else level
        level = amount if measure == "total" else level + amount
        kind = "total" if measure == "total" else "increase" if amount >= 0 else "decrease"
        rows.append({"step": str(step), "start": start, "end": level, "amount": amount,
                     "kind": kind, "label": usd(amount)})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["step", "start", "end", "amount", "kind", "label"])
    frame["top"] = frame[["start", "end"]].max(axis=1)
    frame["next_step"] = frame["step"].shift(-1)
    return frame


def waterfall_chart(table: pd.DataFrame) -> Chart:
    """Plan → volume, tokens per request, model mix, price → actual."""
    frame = waterfall_frame(table)
    x = alt.X(
        "step:N", sort=list(frame["step"]), title=None, axis=alt.Axis(labelAngle=0, labelLimit=200)
    )
    money = money_axis(_levels(table), headroom=True, title="USD")
    tooltip = [
        alt.Tooltip("step:N", title="Step"),
        alt.Tooltip("amount:Q", title="Amount", format=HOVER),
        alt.Tooltip("end:Q", title="Running total", format=HOVER),
    ]
    base = alt.Chart(frame)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("start:Q", **money),
        y2="end:Q",
        color=alt.Color(
            "kind:N", scale=alt.Scale(domain=list(KINDS), range=list(KINDS.values())), legend=None
        ),
        tooltip=tooltip,
    )
    labels = base.mark_text(baseline="bottom", dy=-4, fontSize=11).encode(
        x=x, y=alt.Y("top:Q", **money), text="label:N", tooltip=tooltip
    )
    connectors = (
        base.transform_filter("isValid(datum.next_step)")
        .mark_rule(color="#999999", strokeDash=[2, 3])
        .encode(x=x, x2="next_step:N", y=alt.Y("end:Q", **money))
    )
    return style(alt.layer(bars, connectors, labels), height=380)


def _levels(table: pd.DataFrame) -> list[float]:
    """The height the waterfall reaches at each step (totals, then running sums)."""
    return waterfall_frame(table)["end"].tolist()


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
        shown[column] = floats(shown[column])
    shown["break_even_escalation"] = [
        "—" if v is None else ("never saves" if v <= 0 else f"{float(v) * 100:.1f} %")
        for v in table["break_even_escalation"]
    ]
    return shown[[*RULE_FIRST, *[c for c in shown.columns if c not in RULE_FIRST]]]


def suggestion_display(table: pd.DataFrame) -> pd.DataFrame:
    """Suggestion rows, biggest saving first, with floats for display (shares in percent)."""
    shown = table.copy()
    for column in ("savings_usd", "monthly_savings_usd"):
        shown[column] = floats(shown[column])
    shown["share_under"] = [v * 100 for v in floats(shown["share_under"])]
    return shown.sort_values("monthly_savings_usd", ascending=False, kind="stable")


def models_display(models: pd.DataFrame) -> pd.DataFrame:
    """Per-model before/after with floats for display."""
    shown = models.copy()
    for column in ("requests_before", "requests_after", "baseline_usd", "scenario_usd"):
        shown[column] = floats(shown[column])
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
