"""The Reconciliation page's cached loaders and its empty state."""

from datetime import date

import streamlit as st

from db.engine import make_engine
from db.reconcile import Reconciliation, imported_range, provider_name, reconcile, usage_sources
from ui import format as fmt
from ui.openai_import import PROVIDERS, sample_panel
from ui.resources import price_book

SOURCE_NAMES = {"openai-usage": "OpenAI's Usage API", "anthropic-usage": "Anthropic's usage report",
                "litellm-daily": "LiteLLM's daily spend tables"}  # fmt: skip


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_sources(url: str) -> dict[str, list[str]]:
    """Providers with imported usage or cost, and the usage reports stored for each."""
    return usage_sources(make_engine(url))


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_span(url: str, provider: str) -> tuple[date, date] | None:
    """First and last imported day of one provider."""
    return imported_range(make_engine(url), provider)


@st.cache_data(ttl=60, max_entries=32, show_spinner="Comparing computed and billed cost…")
def load_reconciliation(
    url: str, provider: str, source: str | None, start: date, end: date, tolerance: float
) -> Reconciliation:
    """The reconciliation table for one provider, usage report, range and tolerance."""
    return reconcile(
        make_engine(url), price_book(), start, end, provider=provider, usage_source=source,
        tolerance_share=tolerance,
    )  # fmt: skip


def empty_state(url: str, provider: str) -> None:
    """Nothing imported for this provider yet: what the page does and how to try it."""
    name = fmt.escape_markdown(provider_name(provider))
    st.info(
        f"Nothing to reconcile yet. This page sets the cost Costdesk computed from your logged "
        f"calls beside what {name} counted and billed, per day and model, and explains each "
        "difference. Import the last days with the button above, load three sample days to see "
        "how it reads, or upload saved usage or cost pages on the Upload page.",
        icon=":material/info:",
    )
    if provider in PROVIDERS:
        sample_panel(url, prefix="reconcile", provider=provider)
        chosen = PROVIDERS[provider]
        st.code(f"{chosen.key_setting}=... python cli.py import-{provider} --days 30", "bash")
    st.caption(
        "Request logs to compare against come from Upload, `cli.py ingest` or the SDK wrapper."
    )
