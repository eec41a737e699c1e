"""Cached resources shared by the pages: engine, price book, loaders, offline tokenizers."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from core.pricing import PriceBook
from db.engine import database_url, make_engine
from db.prices import load_price_book
from integrations.settings import setting


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine for the configured database URL (one per URL per server)."""
    return _engine_for(database_url(config("COSTDESK_DATABASE_URL")))


@st.cache_resource(show_spinner=False)
def _price_book_for(url: str) -> PriceBook:
    return load_price_book(_engine_for(url))


def price_book() -> PriceBook:
    """The price book with custom prices; rebuilt after `prices_changed()`."""
    return _price_book_for(database_url(config("COSTDESK_DATABASE_URL")))


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
