"""Cached resources shared by the pages: engine, price book, and loaders keyed by filters.

Loaders are keyed by the database URL, a stamp of what is stored and plain filter values;
`data_changed()` also forgets them after this session's own ingest, delete or re-price.
"""

from __future__ import annotations

import gc
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core.pricing import PriceBook
from db import queries
from db.demo import DEMO_SOURCE
from db.engine import database_url, make_engine
from db.ingest.uploads import data_stamp, demo_upload
from db.prices import load_price_book
from db.queries.drilldown import (
    PAGE_ROWS,
    Drill,
    DrillTotals,
    drill_totals,
    request_rows,
    rollup_requests,
    top_groups,
)
from integrations.settings import setting


@st.cache_resource(show_spinner=False)
def settle_heap() -> int:
    """Once per server process, after its first page has run: collect the garbage, then move
    every object still alive (the libraries, the engine, the price book) out of the cyclic
    collector's view (`gc.freeze`). A full collection otherwise walks those hundreds of
    thousands of objects every so often, in the middle of a page's work: a 45 ms query took
    80-160 ms every other time. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine for the configured database URL (one per URL per server)."""
    return _engine_for(database())


@st.cache_resource(show_spinner=False)
def _price_book_for(url: str) -> PriceBook:
    return load_price_book(_engine_for(url))


def price_book() -> PriceBook:
    """The price book with custom prices; rebuilt after `prices_changed()`."""
    return _price_book_for(database())


def prices_changed() -> None:
    """Forget the cached price book and every cached loader (after a custom price edit)."""
    _price_book_for.clear()
    st.cache_data.clear()


def data_changed() -> None:
    """Forget every cached loader (after an ingest, a delete or a re-price)."""
    st.cache_data.clear()


def config(name: str, default: str | None = None) -> str | None:
    """Environment variable, then `.streamlit/secrets.toml`, then `default`."""
    return setting(name, default)


# ---------------------------------------------------------------- loaders keyed by filters
# Each takes the database URL, the data stamp (`db.ingest.data_stamp`: it changes with every
# ingest, delete and re-price, from this process or the CLI) and plain filter values.


def database() -> str:
    """The configured database URL."""
    return database_url(config("COSTDESK_DATABASE_URL"))


def data_version() -> tuple:
    """What is stored right now, as a cache key (one tiny query over the upload table)."""
    return data_stamp(engine())


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def load_filter_values(url: str, stamp: tuple) -> queries.FilterValues:
    """Projects, models, statuses and the date span stored in the rollups."""
    return queries.filter_values(_engine_for(url))


# The Usage page's rollup reads, by name: a section loads only what it draws.
USAGE_QUERIES = {
    "daily": queries.daily_by_model,
    "kpi_totals": queries.kpi_totals,
    "latency": queries.latency_by_day,
    "latency_buckets": queries.latency_buckets,
    "by_project": queries.by_project_feature,
    "names": queries.model_names,
    "failure": queries.cost_of_failure,
    "output": queries.output_histogram,
}


@st.cache_data(ttl=600, max_entries=128, show_spinner="Adding up usage…")
def load_usage(url: str, stamp: tuple, name: str, filters: queries.UsageFilters) -> Any:
    """One Usage query (`USAGE_QUERIES[name]`) for one set of filters."""
    return USAGE_QUERIES[name](_engine_for(url), filters)


@st.cache_data(ttl=600, max_entries=64, show_spinner="Adding up spend…")
def load_spend_by(url: str, stamp: tuple, group: str, filters: queries.UsageFilters) -> Any:
    """Spend of the filtered traffic split by one dimension (`db.queries.attribution`); users
    from the user rollup (top users per day) unless a filter needs the stored rows."""
    from db.queries.attribution import spend_by

    start, end = filters.start, filters.end
    return spend_by(_engine_for(url), [group], start, end, filters, capped=True)  # type: ignore[arg-type]


@st.cache_data(ttl=600, max_entries=32, show_spinner="Reading the requests…")
def load_drill(url: str, stamp: tuple, drill: Drill) -> tuple[DrillTotals, int, dict]:
    """A drill-down's totals, what the rollups hold for it, and its top users, projects and
    features."""
    engine = _engine_for(url)
    groups = {column: top_groups(engine, drill, column) for column in ("user", "project")}
    return drill_totals(engine, drill), rollup_requests(engine, drill), groups


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def load_requests(url: str, stamp: tuple, drill: Drill, page: int, order: str) -> pd.DataFrame:
    """One page of a drill-down's requests."""
    offset = page * PAGE_ROWS
    return request_rows(_engine_for(url), drill, offset=offset, limit=PAGE_ROWS, order=order)


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def load_demo_upload(url: str, stamp: tuple) -> tuple[int, str, int, int] | None:
    """The demo upload (id, file, requests, other uploads' requests), or None."""
    return demo_upload(_engine_for(url), DEMO_SOURCE)
