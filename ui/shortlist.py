"""The model shortlist on the pages: cached reads, the editor, and how a suggestion is marked."""

from __future__ import annotations

import streamlit as st

from core.alternatives import SHORTLISTED
from db.engine import database_url, make_engine
from db.names import traffic_values
from db.shortlist import (
    ShortlistError,
    add_to_shortlist,
    list_shortlist,
    remove_from_shortlist,
    shortlisted,
)
from ui.auth import actor, can
from ui.format import escape_markdown
from ui.resources import config, data_changed, engine, price_book

MARK = "★"


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _shortlist(url: str) -> frozenset[str]:
    return shortlisted(make_engine(url))


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _traffic_models(url: str) -> frozenset[str]:
    return frozenset(traffic_values(make_engine(url), "model_id"))


def _url() -> str:
    return database_url(config("COSTDESK_DATABASE_URL"))


def shortlist_ids() -> frozenset[str]:
    """The team's shortlist (`provider/model` names)."""
    return _shortlist(_url())


def traffic_model_ids() -> frozenset[str]:
    """Canonical ids of the models in the stored traffic."""
    return _traffic_models(_url())


def reason_label(reason: str) -> str:
    """How a suggestion's reason reads in a table or a picker: `★ shortlisted`, `smaller
    sibling`, or "" for a model that is only cheaper."""
    return f"{MARK} {reason}" if reason == SHORTLISTED else reason


def choice_label(model: str, reason: str) -> str:
    """A picker option: `gpt-4o-mini · smaller sibling`, `★ claude-haiku-4-5 · shortlisted`."""
    star = f"{MARK} " if reason == SHORTLISTED else ""
    return f"{star}{model} · {reason}" if reason else model


def _remove(model: str) -> None:
    remove_from_shortlist(engine(), model=model, actor=actor())
    data_changed()
    st.session_state["shortlist_flash"] = f"Took {escape_markdown(model)} off the shortlist."


def shortlist_editor(prefix: str, models: list[str]) -> None:
    """An expander listing the shortlist, with remove buttons and a form to add a model."""
    entries = list_shortlist(engine())
    with st.expander(f"{MARK} Shortlist: models your team has validated ({len(entries)})"):
        st.caption(
            "Models you have checked on your own prompts. Suggestions here and on the other "
            f"pages list them first, marked {MARK}."
        )
        if flash := st.session_state.pop("shortlist_flash", None):
            st.success(flash)
        for entry in entries:
            c0, c1 = st.columns([6, 1], vertical_alignment="center")
            note = f" — {escape_markdown(entry.note)}" if entry.note else ""
            c0.markdown(f"{MARK} **{escape_markdown(entry.model)}**{note}")
            c1.button(
                "Remove",
                key=f"{prefix}_sl_rm_{entry.model}",
                on_click=_remove,
                args=(entry.model,),
                disabled=not can("shortlist.write"),
            )
        _add_form(prefix, [m for m in models if m not in {e.model for e in entries}])


def _add_form(prefix: str, models: list[str]) -> None:
    """Pick a chat model and a note, and shortlist it."""
    with st.form(f"{prefix}_sl_form", border=False, clear_on_submit=True):
        c0, c1, c2 = st.columns([3, 3, 1], vertical_alignment="bottom")
        model = c0.selectbox(
            "Add a model", models, index=None, key=f"{prefix}_sl_model", placeholder="Pick a model"
        )
        note = c1.text_input("Note", key=f"{prefix}_sl_note", placeholder="e.g. passed our evals")
        added = c2.form_submit_button("Add", disabled=not can("shortlist.write"))
    if added:
        try:
            entry = add_to_shortlist(
                engine(), model=model or "", book=price_book(), note=note, actor=actor()
            )
        except ShortlistError as exc:
            st.error(escape_markdown(exc))
        else:
            data_changed()
            st.session_state["shortlist_flash"] = f"Shortlisted {escape_markdown(entry.model)}."
            st.rerun()
