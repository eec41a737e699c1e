"""Import a provider's own usage and billed costs from a page (Usage and Reconciliation).

One panel for every provider of `integrations.usage_import` (OpenAI by default, Anthropic):
a days choice and an Import button. Without an admin key the button says which setting is
missing instead of failing; with one, every expected failure becomes a message, never a
traceback. `sample_panel` loads the bundled sample pages to try the page without a key.
"""

from datetime import UTC, datetime

import streamlit as st

from db.engine import make_engine
from db.import_samples import SAMPLE_FILE, load_sample
from integrations.anthropic_import import ANTHROPIC
from integrations.openai_import import OPENAI
from integrations.usage_import import ImportFailed, Provider, admin_key, import_days
from ui.auth import actor, can
from ui.format import escape_markdown
from ui.resources import config, data_changed, price_book

DAY_CHOICES = [7, 14, 30, 60, 90]
PROVIDERS = {"openai": OPENAI, "anthropic": ANTHROPIC}
WHAT = {
    "openai": "usage per model and project, and billed costs",
    "anthropic": "usage per model, workspace and tier, and billed costs",
}


def key_missing(provider: Provider) -> str:
    """What to set for an import (Markdown), said before anything is tried."""
    return (
        f"No {provider.name} admin key is configured yet: set `{provider.key_setting}` in the "
        f"environment or in `.streamlit/secrets.toml` ({provider.key_hint}), then import again."
    )


def run_import(url: str, days: int, provider: Provider = OPENAI) -> None:
    """Import with a progress bar; every expected failure becomes a message, not a traceback."""
    if admin_key(provider, config) is None:
        st.warning(key_missing(provider), icon=":material/key:")
        return
    bar = st.progress(0.0, text=f"Contacting {provider.name}…")
    try:
        report = import_days(
            provider,
            make_engine(url),
            days,
            config=config,
            progress=lambda s, m: bar.progress(s, text=m),
            actor=actor(),
        )
    except ImportFailed as exc:
        bar.empty()
        st.error(f"Import failed: {escape_markdown(exc)}", icon=":material/error:")
        return
    except Exception as exc:  # an unexpected answer must not show a traceback
        bar.empty()
        st.error(f"Import failed unexpectedly ({type(exc).__name__}). Try again later.")
        return
    bar.empty()
    data_changed()
    st.success(
        f"Imported {report.usage_rows} usage rows and {report.cost_rows} cost rows for the last "
        f"{days} days ({report.usage_changed + report.cost_changed} new or changed).",
        icon=":material/check_circle:",
    )


def import_panel(url: str, *, prefix: str, provider: str = "openai") -> None:
    """The import button with a days choice and the admin-key status; widget keys use `prefix`."""
    chosen = PROVIDERS[provider]
    with st.container(border=True):
        st.markdown(f"**Import from {chosen.name}** — {WHAT[provider]}")
        c_days, c_button, c_note = st.columns([1, 1.2, 3], vertical_alignment="bottom")
        days = c_days.selectbox("Days", DAY_CHOICES, index=2, key=f"{prefix}_days")
        clicked = c_button.button(
            f"Import from {chosen.name}",
            key=f"{prefix}_import",
            type="primary",
            disabled=not can("import"),
            help=None if can("import") else "Importing needs administrator rights.",
        )
        has_key = admin_key(chosen, config) is not None
        c_note.caption(
            "Admin key configured." if has_key else
            f"No admin key yet: set `{chosen.key_setting}` in the environment or in "
            "`.streamlit/secrets.toml`."
        )  # fmt: skip
        if clicked:
            run_import(url, days, chosen)


def sample_panel(url: str, *, prefix: str, provider: str) -> None:
    """A button that loads three days of sample pages and logged calls of `provider`, then
    shows the page with them (the message survives the rerun)."""
    name = PROVIDERS[provider].name
    if not st.button(
        f"Load sample {name} pages",
        key=f"{prefix}_sample_{provider}",
        disabled=not can("import"),
    ):
        return
    try:
        stored = load_sample(
            make_engine(url), provider, price_book(), datetime.now(UTC).date(), actor=actor()
        )
    except Exception as exc:  # a sample that cannot load must not show a traceback
        st.error(f"The sample could not be loaded ({type(exc).__name__}).")
        return
    data_changed()
    st.session_state[f"{prefix}_flash"] = (
        f"Loaded {stored} sample usage and cost rows and the calls logged beside them (the "
        f"upload `{SAMPLE_FILE}`, which the Upload page can delete)."
    )
    st.rerun()


def show_flash(prefix: str) -> None:
    """The message a sample load left for the page it reran."""
    message = st.session_state.pop(f"{prefix}_flash", None)
    if message:
        st.success(message, icon=":material/science:")
