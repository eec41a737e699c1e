"""Import OpenAI's own usage and billed costs from a page (Usage and Reconciliation)."""

import streamlit as st

from db.engine import make_engine
from integrations.openai_import import ImportFailed, admin_key, import_days
from ui.format import escape_markdown
from ui.resources import config, data_changed

DAY_CHOICES = [7, 14, 30, 60, 90]


def run_import(url: str, days: int) -> None:
    """Import with a progress bar; every expected failure becomes a message, not a traceback."""
    bar = st.progress(0.0, text="Contacting OpenAI…")
    try:
        report = import_days(
            make_engine(url), days, config=config, progress=lambda s, m: bar.progress(s, text=m)
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


def import_panel(url: str, *, prefix: str) -> None:
    """The import button with a days choice and the admin-key status; widget keys use `prefix`."""
    with st.container(border=True):
        st.markdown("**Import from OpenAI** — usage per model and project, and billed costs")
        c_days, c_button, c_note = st.columns([1, 1.2, 3], vertical_alignment="bottom")
        days = c_days.selectbox("Days", DAY_CHOICES, index=2, key=f"{prefix}_days")
        clicked = c_button.button("Import from OpenAI", key=f"{prefix}_import", type="primary")
        has_key = admin_key(config) is not None
        c_note.caption(
            "Admin key configured." if has_key else
            "No admin key yet: set `OPENAI_ADMIN_KEY` in the environment or in "
            "`.streamlit/secrets.toml`."
        )  # fmt: skip
        if clicked:
            run_import(url, days)
