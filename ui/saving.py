"""Saving a named scenario from a page: a name already in use is replaced only when confirmed."""

from __future__ import annotations

from typing import Any

import streamlit as st

from db.scenarios import Scenario, ScenarioError, load_scenario, save_scenario
from ui.auth import actor
from ui.format import escape_markdown
from ui.resources import engine


def save_asking(
    prefix: str, *, name: str, params: dict[str, Any], kind: str, clicked: bool
) -> Scenario | None:
    """Save `params` as `name` when Save was `clicked`; if `name` is taken, ask first.

    Returns the saved scenario on the run that saved it, else None. Errors (a blank name)
    are shown as an error box.
    """
    pending = f"{prefix}_replace"
    if clicked:
        clean = " ".join(name.split())
        if clean and load_scenario(engine(), clean, kind) is not None:
            st.session_state[pending] = clean
        else:
            st.session_state.pop(pending, None)
            return _save(name, params, kind)
    taken = st.session_state.get(pending)
    if not taken:
        return None
    st.warning(
        f"“{escape_markdown(taken)}” is already saved. Replace it with the current settings?"
    )
    c = st.columns([1, 1, 4])
    if c[0].button("Replace", key=f"{prefix}_replace_yes", type="primary"):
        st.session_state.pop(pending, None)
        return _save(taken, params, kind)
    if c[1].button("Cancel", key=f"{prefix}_replace_no"):
        st.session_state.pop(pending, None)
        st.rerun()
    return None


def _save(name: str, params: dict[str, Any], kind: str) -> Scenario | None:
    """Store the scenario; a refused name is shown as an error."""
    try:
        return save_scenario(engine(), name=name, params=params, kind=kind, actor=actor())
    except ScenarioError as exc:
        st.error(escape_markdown(exc))
        return None
