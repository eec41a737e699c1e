"""Usage page tables: each takes a frame from `db.queries` and returns a frame for display.

Money arrives as integer pico-dollars; it becomes text or float money of the display currency
here. Text from logs stays as it is in grids (`st.dataframe` shows text as text) and is
escaped for Markdown in static tables (`st.table`).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from core.costs import picos_to_usd
from core.currency import Conversion
from ui.charts.usage import money_float, shown_label, spend_column
from ui.format import escape_markdown, in_currency, millis, share, usd


def project_table(by_project: pd.DataFrame, conv: Conversion | None = None) -> pd.DataFrame:
    """Spend per project and feature, for display."""
    total = by_project["cost_pusd"].sum()
    return pd.DataFrame(
        {
            "Project": shown_label(by_project["project"]),
            "Feature": shown_label(by_project["feature"]),
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
            label: shown_label(groups["key"]),
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
            "Project": shown_label(rows["project"]),
            "Feature": shown_label(rows["feature"]),
            "User": shown_label(rows["user"]),
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
