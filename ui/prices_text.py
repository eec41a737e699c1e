"""Prices as the pages say them: exact small amounts and "prices as of <date>"."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import streamlit as st

from core.pricing import CHAT_KIND, SNAPSHOT, Rates, as_row

MAX_PLACES = 6


def exact_usd(value: Decimal | float | int | None) -> str:
    """$2.50, $0.0375, $0.00048, $1,234.00: two decimals, more only where cents hide the
    amount (up to six), "—" for no price."""
    if value is None:
        return "—"
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-MAX_PLACES), ROUND_HALF_UP)
    text = f"{abs(amount):,.{MAX_PLACES}f}".rstrip("0")
    whole, _, cents = text.partition(".")
    sign = "-" if amount < 0 else ""
    return f"{sign}${whole}.{cents.ljust(2, '0')}"


def prices_as_of(when: date) -> str:
    """`prices as of 2026-11-30`: the date the prices shown were in force."""
    return f"prices as of {when.isoformat()}"


def prices_help(rates: Rates | None = None) -> str:
    """Where the prices come from, for a help tooltip (the bundled price list's version)."""
    text = (
        f"Prices come from the {SNAPSHOT} price list that ships with Costdesk, with your "
        "custom prices (Price book page) on top."
    )
    return f"{text} This model: {rates.source_text}." if rates is not None else text


RATE_LABELS = {
    "input_mtok": "Input $/1M",
    "output_mtok": "Output $/1M",
    "cached_input_mtok": "Cached input $/1M",
    "cache_write_mtok": "Cache write $/1M",
    "batch_input_mtok": "Batch input $/1M",
    "batch_output_mtok": "Batch output $/1M",
    "long_context_input_mtok": "Long ctx input $/1M",
    "long_context_output_mtok": "Long ctx output $/1M",
}
COLUMNS = (
    "provider",
    "model",
    "kind",
    "input_mtok",
    "output_mtok",
    "cached_input_mtok",
    "cache_write_mtok",
    "batch_input_mtok",
    "batch_output_mtok",
    "context_window",
    "long_context_above_tokens",
    "long_context_input_mtok",
    "long_context_output_mtok",
    "effective_from",
    "source",
)
SORTS = {
    "Provider and model": (["provider", "model"], True),
    "Input price, lowest first": (["input_mtok", "model"], True),
    "Output price, lowest first": (["output_mtok", "model"], True),
    "Context window, largest first": (["context_window", "model"], False),
}


def source_label(source: str) -> str:
    """`price list` for the bundled snapshot, `custom price #3` for an override."""
    if source.startswith("override"):
        return "custom price " + source.removeprefix("override").strip()
    return "price list"


def price_table(rows: list[Rates], sort: str | None = None) -> pd.DataFrame:
    """Prices as the Price book shows them: sorted on the exact figures (one of `SORTS`; None
    keeps the order given), then money as text with the decimals each price needs, unknown
    windows and unset prices said in words."""
    frame = pd.DataFrame([{**as_row(r), "kind": r.kind} for r in rows], columns=[*COLUMNS])
    if sort is not None:
        columns, ascending = SORTS[sort]
        frame = frame.sort_values(columns, ascending=ascending, na_position="last", kind="stable")
    for column in RATE_LABELS:
        frame[column] = frame[column].map(exact_usd)
    frame["context_window"] = frame["context_window"].map(lambda v: _tokens_text(v, "unknown"))
    frame["long_context_above_tokens"] = frame["long_context_above_tokens"].map(_tokens_text)
    frame["kind"] = frame["kind"].map(lambda k: "chat" if k == CHAT_KIND else k)
    frame["effective_from"] = frame["effective_from"].map(lambda d: d.isoformat() if d else "—")
    frame["source"] = frame["source"].map(source_label)
    return frame.reset_index(drop=True)


def _tokens_text(value: object, missing: str = "—") -> str:
    """128,000, or `missing` where the price book gives no number."""
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return f"{int(value):,}"


def price_columns() -> dict[str, object]:
    """Column labels and help for `price_table`."""
    text = st.column_config.TextColumn
    config: dict[str, object] = {k: text(v) for k, v in RATE_LABELS.items()}
    return config | {
        "provider": text("Provider"),
        "model": text("Model"),
        "kind": text(
            "Kind",
            help="What the model does. Only chat models are offered as "
            "routing targets and switch suggestions.",
        ),
        "long_context_above_tokens": text(
            "Long context above", help="Prompts above this many tokens pay the long-context prices."
        ),
        "context_window": text(
            "Context window",
            help="Tokens a request can hold; unknown where the price list does not say.",
        ),
        "effective_from": text("In force since"),
        "source": text("Source", help=prices_help()),
    }
