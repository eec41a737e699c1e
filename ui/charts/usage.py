"""Usage page figures and tables: each takes a frame from `db.queries` and returns a figure.

Money arrives as integer pico-dollars; it becomes float USD here (or float money of the
display currency, given a `Conversion`), for chart axes and table display only. Models are
canonical ids (`model_id`); only the drill-down table shows the names each was logged under.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.costs import picos_to_usd
from core.currency import BASE, Conversion
from core.stats import OUTPUT_EDGES_TOKENS
from ui.charts import (
    COUNT_TICKS,
    DAY_TICKS,
    MONEY_TICKS,
    PALETTE,
    TOKEN_TICKS,
    figure_text,
    money_hover,
    series_colors,
    style,
)
from ui.format import escape_markdown, in_currency, millis, share, usd

PICOS_PER_USD = 1e12
NONE_LABEL = "(none)"
TOP_FEATURES = 15  # features drawn in a colour of their own in the spend-by-project chart
OTHER_COLOR = "#B8BCC4"  # the segment of all other features
TOKEN_PARTS = {
    "uncached_input_tokens": "Input (uncached)",
    "cached_input_tokens": "Input (cached)",
    "cache_write_tokens": "Cache writes",
    "output_tokens": "Output",
}


def usd_float(picos: pd.Series) -> pd.Series:
    """Pico-dollar integers as float USD (display only)."""
    return picos.astype("float64") / PICOS_PER_USD


def money_float(picos: pd.Series, conv: Conversion | None = None) -> pd.Series:
    """Pico-dollars as float money in the conversion's currency (USD without one)."""
    usd = usd_float(picos)
    return usd * float(conv.rate.per_usd) if conv and conv.rate else usd


def code(conv: Conversion | None) -> str:
    """The currency figures are drawn in."""
    return conv.currency if conv else BASE


def spend_column(conv: Conversion | None = None) -> str:
    """The header of a table's spend column: 'Spend (USD)', 'Spend (EUR)'."""
    return f"Spend ({code(conv)})"


def _ticks(conv: Conversion | None) -> dict[str, str]:
    """Money axis ticks: a $ prefix for USD, the code after the figure otherwise."""
    if conv is None or not conv.converted:
        return MONEY_TICKS
    return {"tickformat": MONEY_TICKS["tickformat"], "ticksuffix": f" {conv.currency}"}


def _hover(values: pd.Series, conv: Conversion | None) -> str:
    """`money_hover` in the conversion's currency."""
    hover = money_hover(values)
    if conv is None or not conv.converted:
        return hover
    return hover.replace("{y:$", "{y:") + f" {conv.currency}"


def _label(values: pd.Series) -> pd.Series:
    """Empty project or feature names shown as '(none)'."""
    return values.astype(str).replace("", NONE_LABEL)


def _empty(title: str | None = None) -> go.Figure:
    """A blank figure saying there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text="No data for these filters", showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, title=title, height=240)


def daily_cost_by_model(daily: pd.DataFrame, conv: Conversion | None = None) -> go.Figure:
    """Stacked bars: spend per day, one distinct colour per model (largest spend first).

    Each bar carries its model id in `customdata`, so a click on it names the day and model.
    """
    if daily.empty:
        return _empty()
    order = daily.groupby("model_id")["cost_pusd"].sum().sort_values(ascending=False).index
    colors = series_colors(order)
    hover = _hover(money_float(daily.groupby("day")["cost_pusd"].sum(), conv), conv)
    fig = go.Figure()
    for model in order:
        group = daily[daily["model_id"] == model]
        fig.add_bar(
            x=group["day"],
            y=money_float(group["cost_pusd"], conv),
            name=figure_text(model),
            marker_color=colors[model],
            customdata=[str(model)] * len(group),
            hovertemplate=hover,
        )
    # the legend names the model even when there is one (Plotly hides a lone trace's legend)
    fig.update_layout(barmode="stack", clickmode="event+select", showlegend=True)
    fig.update_yaxes(title=code(conv), **_ticks(conv))
    fig.update_xaxes(**DAY_TICKS)
    return style(fig)


def tokens_per_day(totals: pd.DataFrame) -> go.Figure:
    """Stacked bars: uncached input, cached input, cache writes and output tokens per day."""
    if totals.empty:
        return _empty()
    fig = go.Figure()
    for column, name in TOKEN_PARTS.items():
        if totals[column].sum() > 0:
            fig.add_bar(x=totals["day"], y=totals[column], name=name, hovertemplate="%{y:,}")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="tokens", **TOKEN_TICKS)
    fig.update_xaxes(**DAY_TICKS)
    return style(fig)


def errors_per_day(totals: pd.DataFrame) -> go.Figure:
    """429 responses per day (bars) and the error rate (line, right axis)."""
    if totals.empty:
        return _empty()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=totals["day"], y=totals["rate_limited"], name="429 responses", hovertemplate="%{y:,}"
    )
    fig.add_scatter(
        x=totals["day"],
        y=totals["error_share"].astype(float),
        name="Error rate (status ≥ 400)",
        mode="lines+markers",
        secondary_y=True,
        hovertemplate="%{y:.2%}",
    )
    fig.update_yaxes(title="429s", rangemode="tozero", secondary_y=False, **COUNT_TICKS)
    fig.update_yaxes(title="error rate", tickformat=".1~%", rangemode="tozero", secondary_y=True,
                     tickmode="auto", showgrid=False)  # fmt: skip
    fig.update_xaxes(**DAY_TICKS)
    return style(fig)


LATENCY_LINES = (("p95_ms", "solid", "P95", PALETTE[0]), ("p50_ms", "dot", "P50", PALETTE[1]))


def latency_per_day(latency: pd.DataFrame, columns: int = 2) -> go.Figure:
    """Small multiples: one panel per model with its P95 (solid) and P50 (dotted) per day."""
    if latency.empty:
        return _empty()
    models = sorted(latency["model_id"].unique(), key=str)
    rows = math.ceil(len(models) / columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        shared_xaxes=True,
        subplot_titles=[figure_text(m) for m in models],
        vertical_spacing=min(0.12, 0.5 / rows),
        horizontal_spacing=0.08,
    )
    for i, model in enumerate(models):
        group = latency[latency["model_id"] == model]
        row, col = divmod(i, columns)
        for column, dash, label, color in LATENCY_LINES:
            fig.add_scatter(
                x=group["day"],
                y=group[column],
                name=f"{figure_text(model)} {label}",
                mode="lines",
                line={"color": color, "dash": dash},
                showlegend=False,
                hovertemplate=f"{label} %{{y:,.0f}} ms<extra></extra>",
                row=row + 1,
                col=col + 1,
            )
    fig.update_yaxes(rangemode="tozero", **COUNT_TICKS)
    fig.update_xaxes(**DAY_TICKS)
    fig = style(fig, height=max(260, 190 * rows))
    fig.update_layout(hovermode="x", margin={"t": 30})
    return fig


def cost_by_project(by_project: pd.DataFrame, conv: Conversion | None = None) -> go.Figure:
    """Horizontal stacked bars: spend per project split by feature, each total written at the
    end of its bar. The TOP_FEATURES features with the most spend get a colour each; the rest
    share one segment per project (the table below the chart lists every feature)."""
    if by_project.empty:
        return _empty()
    frame = by_project.assign(
        project=_label(by_project["project"]).map(figure_text),
        feature=_label(by_project["feature"]).map(figure_text),
        usd=money_float(by_project["cost_pusd"], conv),
    )
    features = frame.groupby("feature")["usd"].sum().sort_values(ascending=False).index.tolist()
    colors = series_colors(features[:TOP_FEATURES])
    if len(features) > TOP_FEATURES:  # the rest: one grey segment, last on each bar
        rest = f"{len(features) - TOP_FEATURES} other features"
        kept = frame["feature"].isin(features[:TOP_FEATURES])
        frame["feature"] = frame["feature"].where(kept, rest)
        frame = frame.groupby(["project", "feature"], as_index=False, sort=False)["usd"].sum()
        features, colors[rest] = [*features[:TOP_FEATURES], rest], OTHER_COLOR
    totals = frame.groupby("project")["usd"].sum().sort_values()
    fig = go.Figure()
    for feature in features:
        group = frame[frame["feature"] == feature]
        fig.add_bar(
            y=group["project"],
            x=group["usd"],
            name=feature,
            orientation="h",
            marker_color=colors[feature],
            hovertemplate=_hover(group["usd"], conv).replace("{y", "{x"),
        )
    for project, amount in totals.items():
        fig.add_annotation(
            x=amount, y=project, text=_total_text(amount, conv), showarrow=False,
            xanchor="left", xshift=6,
        )  # fmt: skip
    fig.update_layout(barmode="stack", hovermode="y unified")
    fig.update_yaxes(categoryorder="array", categoryarray=totals.index.tolist())
    fig.update_xaxes(title=code(conv), range=[0, float(totals.max()) * 1.18], **_ticks(conv))
    return style(fig, height=max(180, 110 + 40 * len(totals)))


def _total_text(amount: float, conv: Conversion | None) -> str:
    """A bar's total at its end: $12.34, or 11.11 EUR."""
    return in_currency(Decimal(str(round(amount, 2))), code(conv))


def caching_savings(totals: pd.DataFrame, conv: Conversion | None = None) -> go.Figure:
    """Money saved by cached input per day (bars) and the cached share of input (line)."""
    if totals.empty:
        return _empty()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    saved = money_float(totals["cache_savings_pusd"], conv)
    fig.add_bar(x=totals["day"], y=saved, name="Saved by caching")
    share = totals["cached_input_tokens"] / totals["input_tokens"].where(totals["input_tokens"] > 0)
    fig.add_scatter(
        x=totals["day"],
        y=share.astype(float),
        name="Cached share of input",
        mode="lines",
        secondary_y=True,
    )
    fig.update_yaxes(title=f"{code(conv)} saved", secondary_y=False, **_ticks(conv))
    fig.update_yaxes(title="cached share", tickformat=".0%", rangemode="tozero", secondary_y=True,
                     tickmode="auto", showgrid=False)  # fmt: skip
    fig.update_xaxes(**DAY_TICKS)
    return style(fig)


def failure_cost_per_day(by_day: pd.DataFrame, conv: Conversion | None = None) -> go.Figure:
    """Stacked bars: spend on failed calls and estimated retry spend per day."""
    if by_day.empty or (by_day["failed_pusd"].sum() == 0 and by_day["retry_pusd"].sum() == 0):
        return _empty()
    fig = go.Figure()
    fig.add_bar(x=by_day["day"], y=money_float(by_day["failed_pusd"], conv), name="Failed calls")
    retries = money_float(by_day["retry_pusd"], conv)
    fig.add_bar(x=by_day["day"], y=retries, name="Retries (estimate)")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=code(conv), **_ticks(conv))
    fig.update_xaxes(**DAY_TICKS)
    return style(fig)


def output_distribution(histogram: pd.DataFrame, suggested_tokens: int | None) -> go.Figure:
    """Responses per output-token bucket (log axis), with the suggested max_tokens marked."""
    if histogram.empty:
        return _empty()
    first, last = int(histogram["bucket"].min()), int(histogram["bucket"].max())
    buckets = np.arange(first, last + 2)
    counts = np.zeros(len(buckets), dtype=np.int64)
    counts[histogram["bucket"].to_numpy(np.int64) - first] = histogram["count"].to_numpy()
    edges = OUTPUT_EDGES_TOKENS[np.minimum(buckets, len(OUTPUT_EDGES_TOKENS) - 1)]
    fig = go.Figure()
    fig.add_scatter(
        x=np.maximum(edges, 1.0),
        y=counts,
        mode="lines",
        line={"shape": "hv"},
        fill="tozeroy",
        name="responses",
        hovertemplate="%{x:,.0f}+ tokens: %{y:,} responses<extra></extra>",
    )
    if suggested_tokens:
        fig.add_vline(
            x=suggested_tokens,
            line_dash="dash",
            annotation_text=f"suggested max_tokens {suggested_tokens:,}",
            annotation_position="top left",
        )
    fig.update_xaxes(type="log", title="output tokens", tickformat="~s")
    fig.update_yaxes(title="responses", **COUNT_TICKS)
    fig = style(fig)
    fig.update_layout(hovermode="closest", showlegend=False, margin={"t": 40})
    return fig


def project_table(by_project: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """Spend per project and feature, for display."""
    total = by_project["cost_pusd"].sum()
    return pd.DataFrame(
        {
            "Project": _label(by_project["project"]),
            "Feature": _label(by_project["feature"]),
            "Requests": by_project["requests"],
            spend_column(conv): money_float(by_project["cost_pusd"], conv),
            "Share of spend": by_project["cost_pusd"] / total if total else 0.0,
        }
    )


def model_table(models: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """Spend per model (canonical id), with how many names it was logged under."""
    total = models["cost_pusd"].sum()
    return pd.DataFrame(
        {
            "Model": models["model_id"],
            "Requests": models["requests"],
            "Errors": models["errors"],
            "Tokens": models["input_tokens"] + models["output_tokens"],
            spend_column(conv): money_float(models["cost_pusd"], conv),
            "Share of spend": models["cost_pusd"] / total if total else 0.0,
            "Logged names": models["logged_names"],
        }
    )


def logged_name_table(names: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """The drill-down: each model's spend split by the names it was logged under."""
    return pd.DataFrame(
        {
            "Model": names["model_id"],
            "Logged as": names["model"],
            "Requests": names["requests"],
            "Errors": names["errors"],
            "Tokens": names["input_tokens"] + names["output_tokens"],
            spend_column(conv): money_float(names["cost_pusd"], conv),
        }
    )


def status_table(by_status: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """Failed calls per status code, formatted for a static table."""
    return pd.DataFrame(
        {
            "Status": by_status["status"].astype(str),
            "Requests": [f"{n:,}" for n in by_status["requests"]],
            "Spend": [_spend_text(picos_to_usd(p), conv) for p in by_status["cost_pusd"]],
        }
    )


def audit_table(by_model: pd.DataFrame) -> pd.DataFrame:
    """max_tokens audit per model, formatted for a static table (`st.table` reads Markdown)."""
    return pd.DataFrame(
        {
            "Model": by_model["model_id"].map(escape_markdown),
            "Responses": [f"{n:,}" for n in by_model["requests"]],
            "Cut by max_tokens": [f"{n:,}" for n in by_model["truncated"]],
            "Share cut": [share(v, 2) for v in by_model["truncated_share"]],
            "P50 output tokens": [_count(v) for v in by_model["p50_tokens"]],
            "P99 output tokens": [_count(v) for v in by_model["p99_tokens"]],
            "Suggested max_tokens": [_count(v) for v in by_model["suggested_max_tokens"]],
        }
    )


def _spend_text(amount_usd: Decimal, conv: Conversion | None) -> str:
    """An exact amount as text in the conversion's currency (small ones keep their decimals)."""
    if conv is None or not conv.converted:
        return usd(amount_usd)
    return in_currency(conv.amount(amount_usd), conv.currency)


def _count(value: float | None) -> str:
    """A whole number with separators, or a dash."""
    return "—" if value is None or pd.isna(value) else f"{value:,.0f}"


def group_table(groups: pd.DataFrame, label: str, conv: Conversion | None = None) -> pd.DataFrame:
    """Top users, projects or features of a drill-down, for display (spend keeps the decimals
    cents would hide: one user's day may cost $0.0035), in the conversion's currency."""
    return pd.DataFrame(
        {
            label: _label(groups["key"]),
            "Requests": groups["requests"],
            "Errors": groups["errors"],
            "Tokens": groups["tokens"],
            "Spend": [usd_text(p, conv) for p in groups["cost_pusd"]],
        }
    )


def requests_table(rows: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """Individual requests for display: when, what it cost (in the conversion's currency),
    what was called, by whom, how it went (never content: none is stored)."""
    return pd.DataFrame(
        {
            "Time (UTC)": [_moment(t) for t in rows["ts"]],
            "Cost": [
                usd_text(p, conv) if priced else "unpriced"
                for p, priced in zip(rows["cost_pusd"], rows["priced"], strict=True)
            ],
            "Model": rows["model_id"],
            "Project": _label(rows["project"]),
            "Feature": _label(rows["feature"]),
            "User": _label(rows["user"]),
            "Status": rows["status"].astype(int),
            "Input tokens": rows["input_tokens"],
            "Cached": rows["cached_input_tokens"],
            "Output tokens": rows["output_tokens"],
            "Latency": [millis(float(v)) if pd.notna(v) else "—" for v in rows["latency_ms"]],
            "Finish": rows["finish_reason"].replace("", "—"),
            "Error": rows["error_type"].replace("", "—"),
            "Logged as": rows["model"],
            "Request id": rows["request_id"],
        }
    )


def _moment(value: object) -> str:
    """A stored instant as `2026-11-02 14:03:07` (SQLite may hand back text)."""
    text = str(value)
    return text[:19].replace("T", " ")


def usd_text(picos: int | float, conv: Conversion | None = None) -> str:
    """Pico-dollars as money text, with the decimals cents would hide ($0.0035); in the
    conversion's currency when it converts (0.0032 EUR)."""
    amount = picos_to_usd(int(picos))
    if conv is None or not conv.converted:
        return usd(amount)
    converted = conv.amount(amount)
    return in_currency(converted, conv.currency, places=_places(converted))


def _places(amount: Decimal) -> int:
    """The decimals `usd` keeps for `amount`: cents, or more for what cents would hide."""
    shown = usd(amount).rsplit(".", 1)
    return len(shown[1]) if len(shown) == 2 else 2
