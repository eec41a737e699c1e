"""The demo-data banner: shown on every page while the demo upload is stored."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from core.text import plural
from ui.format import escape_markdown
from ui.resources import data_version, database, load_demo_upload

UPLOAD_PAGE = "views/upload.py"


def demo_banner() -> None:
    """Say that the figures are demo traffic, and how to remove it once real logs are in."""
    try:
        found = load_demo_upload(database(), data_version())
    except SQLAlchemyError:
        return  # the page itself says the database cannot be read
    if found is None:
        return
    upload_id, file_name, rows, real_rows = found
    label = f"#{upload_id} {escape_markdown(file_name)}"
    if real_rows:
        text = (
            f"**Demo data is mixed into your figures**: {plural(rows, 'made-up request')} "
            f"beside {plural(real_rows, 'request')} of your own. Delete upload {label} on the "
            "Upload logs page to see your traffic alone."
        )
        st.warning(text, icon=":material/science:")
    else:
        text = (
            f"**Demo data**: every figure here comes from {plural(rows, 'made-up request')}. "
            f"Upload your own logs; then delete upload {label} on the Upload logs page to remove "
            "the demo."
        )
        st.info(text, icon=":material/science:")
