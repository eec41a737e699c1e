"""Exchange rates: the rates users record, and the currency figures are shown in."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core.currency import BASE, CurrencyError, FxRate
from db.engine import database_url, make_engine
from db.fx import delete_rate, list_rates, rate_notes, record_rate, set_display_currency
from ui.auth import actor, can
from ui.currency import load_display_currency
from ui.format import escape_markdown
from ui.resources import config, data_changed

FLASH = "currency_flash"


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def load_rates(url: str) -> tuple[list[FxRate], dict]:
    """Every recorded rate and its note."""
    engine = make_engine(url)
    return list_rates(engine), rate_notes(engine)


def changed(message: str) -> None:
    """After a write: forget cached figures, run the page again, say what changed."""
    data_changed()
    st.session_state[FLASH] = message
    st.rerun()


def rates_frame(rates: list[FxRate], notes: dict) -> pd.DataFrame:
    """The recorded rates, newest first within each currency."""
    rows = [
        {"Currency": r.currency, "From": r.day, "1 USD =": r.text,
         "Note": notes.get((r.currency, r.day), "")}
        for r in sorted(rates, key=lambda r: (r.currency, r.day), reverse=True)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["Currency", "From", "1 USD =", "Note"])


def display_form(url: str, rates: list[FxRate]) -> None:
    """Pick the currency every page shows figures in."""
    current = load_display_currency(url)
    choices = sorted({BASE, current, *(r.currency for r in rates)})
    with st.form("currency_display_form", border=False):
        c_pick, c_save = st.columns([3, 1], vertical_alignment="bottom")
        picked = c_pick.selectbox(
            "Display currency", choices, index=choices.index(current), key="currency_display"
        )
        saved = c_save.form_submit_button(
            "Save", key="currency_display_save", disabled=not can("settings.write")
        )
    if saved and picked != current:
        set_display_currency(make_engine(url), currency=picked, actor=actor())
        changed(f"Figures are now shown in {picked}.")
    if picked != BASE and not any(r.currency == picked for r in rates):
        st.warning(f"No {picked} rate is recorded yet: pages show USD until one is.")


def record_form(url: str) -> None:
    """Record what one US dollar buys from a date on."""
    with st.form("currency_record_form"):
        c_code, c_rate, c_day = st.columns(3)
        code = c_code.text_input("Currency", value="EUR", max_chars=3, key="currency_code")
        rate = c_rate.text_input("1 USD =", placeholder="0.92", key="currency_rate")
        day = c_day.date_input(
            "From", value=datetime.now(UTC).date(), format="YYYY-MM-DD", key="currency_day"
        )
        note = st.text_input("Note", placeholder="e.g. ECB reference rate", key="currency_note")
        submitted = st.form_submit_button(
            "Record rate", key="currency_record", disabled=not can("settings.write")
        )
    if not submitted:
        return
    try:
        saved = record_rate(
            make_engine(url),
            currency=code,
            per_usd=rate,
            effective_on=day,
            note=note,
            actor=actor(),
        )
    except CurrencyError as exc:
        st.error(f"Not recorded: {escape_markdown(exc)}.")
        return
    changed(f"Recorded: 1 USD = {saved.text} {saved.currency} from {saved.day.isoformat()}.")


def delete_form(url: str, rates: list[FxRate]) -> None:
    """Forget one recorded rate."""
    labels = {f"{r.currency} from {r.day.isoformat()} (1 USD = {r.text})": r for r in rates}
    c_pick, c_delete = st.columns([3, 1], vertical_alignment="bottom")
    picked = c_pick.selectbox("Rate", list(labels), key="currency_delete_pick")
    allowed = can("settings.write")
    if c_delete.button("Delete rate", key="currency_delete", disabled=not allowed) and (
        picked in labels
    ):
        rate = labels[picked]
        delete_rate(make_engine(url), currency=rate.currency, effective_on=rate.day, actor=actor())
        changed(f"Deleted the {rate.currency} rate from {rate.day.isoformat()}.")


st.title("Exchange rates")
st.caption(
    "Money is stored in US dollars. To show it in another currency, record what one US dollar "
    "buys and the date the rate applies from. A figure on a day is converted at the latest rate "
    "dated on or before that day; where there is none, pages say so and show US dollars. "
    "Converted figures always state the rate and its date."
)
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
url = database_url(config("COSTDESK_DATABASE_URL"))
rates, notes = load_rates(url)
display_form(url, rates)
st.subheader("Record a rate")
record_form(url)
st.subheader("Recorded rates")
if not rates:
    st.info("No rates recorded yet.")
    st.stop()
frame = rates_frame(rates, notes)
st.dataframe(frame, hide_index=True, key="currency_rates")
with st.expander("Delete a rate"):
    delete_form(url, rates)
