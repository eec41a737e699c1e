"""Money in the display currency, with the rate and its date beside it, for any page.

A page asks for the conversion in force on the day its figures belong to (a month's last day,
a range's end) and shows amounts through `money`; `rate_caption` puts the rate and its date
under converted figures. A missing rate is said on the page, and the figures stay in USD.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import streamlit as st

from core.currency import Conversion, CurrencyError, money_text
from db.engine import database_url, make_engine
from db.fx import conversion, display_currency
from ui import format as fmt
from ui.format import escape_markdown
from ui.resources import config


def _url() -> str:
    return database_url(config("COSTDESK_DATABASE_URL"))


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def load_conversion(url: str, day: date) -> tuple[Conversion, str]:
    """(the display currency at `day`'s rate, "") or (USD, why no rate applies)."""
    try:
        return conversion(make_engine(url), day), ""
    except CurrencyError as exc:
        return Conversion(), str(exc)


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_display_currency(url: str) -> str:
    """The chosen display currency."""
    return display_currency(make_engine(url))


def display_conversion(day: date) -> Conversion:
    """The display currency on `day`; when it has no rate there, a warning and USD figures."""
    found, problem = load_conversion(_url(), day)
    if problem:
        st.warning(
            f"Figures in USD: {escape_markdown(problem)}.", icon=":material/currency_exchange:"
        )
    return found


def money(usd: Decimal, conv: Conversion, places: int | None = None) -> str:
    """`usd` shown in the conversion's currency (USD as the other pages show it); `places`
    keeps that many decimals (and small amounts non-zero, as `ui.format.usd` does)."""
    if not conv.converted:
        return fmt.usd(usd) if places is None else fmt.usd(usd, places=places)
    if places is None:
        return money_text(conv.amount(usd), conv.currency)
    return fmt.in_currency(conv.amount(usd), conv.currency, places)


def rate_caption(conv: Conversion) -> None:
    """The rate and its date, under converted figures (nothing for USD)."""
    if conv.converted:
        st.caption(f"Figures in {conv.currency}: {escape_markdown(conv.note)}")
