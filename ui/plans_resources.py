"""Calculator plumbing: cached rate matrix and tokenizer, URL <-> widget state, exports."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import streamlit as st

from core.plans import PlanError, RateMatrix, Workload
from core.pricing import CHAT_KIND, PriceBook
from ui.exports import csv_bytes, excel_writer, neutralised
from ui.format import usd
from ui.prices_text import exact_usd
from ui.shortlist import reason_label

PREFIX = "calc_"
DEFAULT_MODEL = "openai/gpt-4o"
PENDING = "calc_pending"
SHADOW = "calc_shadow"


@dataclass(frozen=True)
class UrlField:
    """One calculator input: its widget key, its query-string name and its default."""

    key: str
    param: str
    kind: str  # "model", "int", "pct", "usd", "date"
    default: Any


FIELDS: tuple[UrlField, ...] = (
    UrlField("calc_model", "model", "model", DEFAULT_MODEL),
    UrlField("calc_date", "date", "date", None),
    UrlField("calc_rpd", "rpd", "int", 500),
    UrlField("calc_in", "in", "int", 1600),
    UrlField("calc_out", "out", "int", 400),
    UrlField("calc_max", "max", "int", 0),
    UrlField("calc_cache", "cache", "pct", 0.0),
    UrlField("calc_batch", "batch", "pct", 0.0),
    UrlField("calc_growth", "growth", "pct", 0.0),
    UrlField("calc_days", "days", "int", 30),
    UrlField("calc_months", "months", "int", 12),
    UrlField("calc_swing", "swing", "pct", 25.0),
    UrlField("calc_share_swing", "sswing", "pct", 20.0),
    UrlField("calc_eng", "eng", "usd", 2000.0),
    UrlField("calc_overhead", "ovh", "usd", 0.0),
    UrlField("calc_cache_target", "ctarget", "pct", 50.0),
    UrlField("calc_conv_per_day", "cpd", "int", 200),
    UrlField("calc_turns", "turns", "int", 10),
    UrlField("calc_sys", "sys", "int", 500),
    UrlField("calc_user", "user", "int", 60),
    UrlField("calc_asst", "asst", "int", 250),
    UrlField("calc_window", "win", "int", 4),
    UrlField("calc_sum", "sum", "int", 300),
    UrlField("calc_every", "every", "int", 4),
)


@st.cache_resource(show_spinner=False)
def tokenizer_folder() -> str:
    """Seed tiktoken's cache once per server from the bundled vocabularies (no network)."""
    from integrations.tiktoken_cache import seed_tiktoken_cache

    return str(seed_tiktoken_cache())


@st.cache_resource(show_spinner=False, max_entries=16)
def _matrix(_book: PriceBook, book_id: int, when: date) -> RateMatrix:
    return RateMatrix.from_rates(_book.table(when, kind=CHAT_KIND))


def rate_matrix(book: PriceBook, when: date) -> RateMatrix:
    """Every chat model's rates at `when`, built once per price book and date."""
    return _matrix(book, id(book), when)


def model_options(matrix: RateMatrix) -> list[str]:
    """`provider/model` for every priced model, grouped by provider, then by name."""
    return sorted({f"{r.provider}/{r.model}" for r in matrix.rates})


def model_label(option: str) -> str:
    """`openai/gpt-4o` -> `openai · gpt-4o` for the select box."""
    provider, _, model = option.partition("/")
    return f"{provider} · {model}"


def _parse(field: UrlField, raw: str, options: list[str], book: PriceBook) -> Any:
    if field.kind == "model":
        if raw in options:
            return raw
        entry = book.resolve(raw)
        found = f"{entry.provider}/{entry.model}" if entry else None
        if found not in options:
            raise ValueError(raw)
        return found
    if field.kind == "date":
        return date.fromisoformat(raw)
    if field.kind == "int":
        value = int(raw)
        if value < 0:
            raise ValueError(raw)
        return value
    return float(raw)


def restore_state(options: list[str], book: PriceBook, today: date) -> list[str]:
    """Fill missing widget state from the URL (else the last values, else defaults).

    Returns the query-string names that could not be read, to tell the user.
    """
    state = st.session_state
    for key, value in state.pop(PENDING, {}).items():
        state[key] = value
    shadow = state.get(SHADOW, {})
    unreadable = []
    for field in FIELDS:
        if field.key in state:
            continue
        default = today if field.kind == "date" else field.default
        value = shadow.get(field.key, default)
        raw = st.query_params.get(field.param)
        if raw is not None:
            try:
                value = _parse(field, raw, options, book)
            except (ValueError, TypeError):
                unreadable.append(field.param)
        state[field.key] = value
    return unreadable


def _text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def mirror_to_url() -> None:
    """Write every input into the query string so a shared link reproduces this view."""
    state = st.session_state
    values = {f.param: _text(state[f.key]) for f in FIELDS if f.key in state}
    state[SHADOW] = {f.key: state[f.key] for f in FIELDS if f.key in state}
    for param, text in values.items():  # one by one: the bound tab parameter stays as it is
        if st.query_params.get(param) != text:
            st.query_params[param] = text


def _pct(value: float) -> Decimal:
    return Decimal(str(value)) / 100


def workload_from_state() -> Workload:
    """The workload the widgets describe (percent inputs become 0..1 shares)."""
    s = st.session_state
    return Workload(
        requests_per_day=Decimal(s["calc_rpd"]),
        input_tokens=int(s["calc_in"]),
        output_tokens=int(s["calc_out"]),
        cache_hit_share=_pct(s["calc_cache"]),
        batch_share=_pct(s["calc_batch"]),
        growth_monthly_share=_pct(s["calc_growth"]),
        days_per_month=int(s["calc_days"]),
        months=int(s["calc_months"]),
        pricing_date=s["calc_date"],
        max_output_tokens=int(s["calc_max"]) or None,
    )


def scenario_params() -> dict[str, Any]:
    """The current model and workload as scenario parameters."""
    return {"model": st.session_state["calc_model"], **workload_from_state().to_params()}


def state_from_params(params: dict[str, Any], options: list[str], book: PriceBook) -> dict:
    """Widget values that reproduce a saved scenario."""
    w = Workload.from_params(params)
    model = str(params.get("model", DEFAULT_MODEL))
    try:
        model = _parse(FIELDS[0], model, options, book)
    except ValueError as exc:
        raise PlanError(f"The scenario's model {model} is no longer priced.") from exc
    return {
        "calc_model": model,
        "calc_date": w.pricing_date or date.today(),
        "calc_rpd": int(w.requests_per_day),
        "calc_in": w.input_tokens,
        "calc_out": w.output_tokens,
        "calc_max": w.max_output_tokens or 0,
        "calc_cache": float(w.cache_hit_share * 100),
        "calc_batch": float(w.batch_share * 100),
        "calc_growth": float(w.growth_monthly_share * 100),
        "calc_days": w.days_per_month,
        "calc_months": w.months,
    }


def decimal_input(value: float) -> Decimal:
    """A float from a number input as the Decimal the user typed."""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def small_usd(value: Decimal) -> str:
    """Money that may be a fraction of a cent, without trailing zeros: $0.008, $0.00048."""
    text = usd(value)
    if "." in text and value < Decimal("0.01"):
        text = text.rstrip("0")
    return text


_TEXT_COLUMNS = {
    "fits_context": lambda v: {True: "fits", False: "too small"}.get(v, "unknown"),
    "context_window": lambda v: "unknown" if _missing(v) else f"{int(v):,}",
    "max_output_tokens": lambda v: "no cap" if _missing(v) else f"{int(v):,}",
    "reason": lambda v: reason_label(v) or "cheaper",
    "pricing_date": lambda v: "today" if _missing(v) else str(v),
    "cost_per_request_usd": exact_usd,
    "per_conversation_usd": exact_usd,
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Exact Decimal columns as floats (for number formats and spreadsheets)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, Decimal)).any():
            out[column] = out[column].map(lambda v: float(v) if v is not None else None)
    return out


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the page shows it: money as floats for st.dataframe's number formats,
    shares in percent, amounts under a cent and unknowns ("unknown", "no cap") as text, and
    no column of nothing but blanks."""
    out = _floats(frame)
    for column in out.columns:
        if column in _TEXT_COLUMNS:
            out[column] = frame[column].map(_TEXT_COLUMNS[column]).astype(object)
        elif column in _SHARE_COLUMNS:
            out[column] = out[column].map(lambda v: None if _missing(v) else float(v) * 100)
    return out.dropna(axis="columns", how="all") if len(out) else out


def _exact_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        out[column] = out[column].map(
            lambda v: f"{v.normalize():f}" if isinstance(v, Decimal) else v
        )
    return out


def export_csv(frame: pd.DataFrame) -> bytes:
    """The comparison as CSV, money as exact decimal strings."""
    return csv_bytes(_exact_text(frame))


def export_xlsx(frame: pd.DataFrame) -> bytes:
    """The comparison as an Excel sheet (XlsxWriter), money formatted as dollars."""
    buffer = io.BytesIO()
    data = neutralised(_floats(frame))
    with excel_writer(buffer) as writer:
        data.to_excel(writer, sheet_name="Scenarios", index=False)
        sheet = writer.sheets["Scenarios"]
        money = writer.book.add_format({"num_format": "$#,##0.00####"})
        for i, column in enumerate(data.columns):
            sheet.set_column(
                i, i, max(14, len(column) + 2), money if column.endswith("_usd") else None
            )
    return buffer.getvalue()


def analysis_options() -> dict[str, Decimal]:
    """The sensitivity and what-if inputs as `core.plans.analyse` keyword arguments."""
    s = st.session_state
    return {
        "swing": _pct(s["calc_swing"]),
        "share_swing": _pct(s["calc_share_swing"]),
        "engineering_cost_usd": decimal_input(s["calc_eng"]),
        "batch_overhead_monthly_usd": decimal_input(s["calc_overhead"]),
        "cache_target_share": _pct(s["calc_cache_target"]),
    }


def _driver_text(driver: str, value: Decimal) -> str:
    if driver in ("cache_hit_share", "batch_share"):
        return f"{float(value) * 100:.0f} %"
    if driver == "price":
        return f"×{float(value):.2f}"
    if driver == "volume":
        return f"{float(value):,.0f} requests/day"
    return f"{int(value):,} tokens"


def tornado_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Tornado rows with readable low / high driver values for the chart's hover."""
    out = frame.copy()
    out["low_text"] = [
        _driver_text(d, v) for d, v in zip(out["driver"], out["low_value"], strict=True)
    ]
    out["high_text"] = [
        _driver_text(d, v) for d, v in zip(out["driver"], out["high_value"], strict=True)
    ]
    return out


_MONEY_COLUMNS = {
    "monthly_usd": "Monthly",
    "daily_usd": "Per day",
    "yearly_usd": "Per year",
    "cumulative_usd": "Cumulative",
    "per_1k_requests_usd": "Per 1k requests",
    "uncached_input_usd": "Uncached input / mo",
    "cached_input_usd": "Cached input / mo",
    "output_usd": "Output / mo",
    "saving_usd": "Saving / mo",
}
_SHARE_COLUMNS = {
    "vs_selected_share": "vs selected",
    "saving_share": "Saving",
    "vs_full_share": "vs full history",
    "cache_hit_share": "Cache-hit share",
    "batch_share": "Batch share",
    "growth_monthly_share": "Growth / month",
}
_PLAIN_COLUMNS = {
    "provider": "Provider",
    "model": "Model",
    "scenario": "Scenario",
    "strategy": "Strategy",
    "month": "Month",
    "selected": "Selected",
    "cost_per_request_usd": "Per request",
    "per_conversation_usd": "Per conversation",
    "pricing_date": "Prices as of",
    "max_output_tokens": "max_tokens cap",
    "context_window": "Context window",
}
_HELP_COLUMNS = {
    "fits_context": (
        "Fits context",
        "Whether a request (input + output cap) fits the model's context window in the price "
        "book; unknown where the price book has no window for the model.",
    ),
    "reason": (
        "Why suggested",
        "★ shortlisted: validated by your team. Smaller sibling: the same family's smaller "
        "model. In your traffic: a model you already call. Cheaper: only the price.",
    ),
}
_NUMBER_COLUMNS = {
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "days_per_month": "Days / month",
    "months": "Horizon (months)",
}


def column_config() -> dict[str, Any]:
    """Readable labels and money / percent formats for every calculator table column."""
    number = st.column_config.NumberColumn
    config: dict[str, Any] = {k: number(v, format="dollar") for k, v in _MONEY_COLUMNS.items()}
    config |= {k: number(v, format="%.1f %%") for k, v in _SHARE_COLUMNS.items()}
    config |= {k: number(v, format="%,d") for k, v in _NUMBER_COLUMNS.items()}
    config["requests_per_day"] = number("Requests / day", format="localized")
    config |= {k: st.column_config.Column(v) for k, v in _PLAIN_COLUMNS.items()}
    config |= {k: st.column_config.Column(v, help=h) for k, (v, h) in _HELP_COLUMNS.items()}
    return config
