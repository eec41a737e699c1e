"""Price book: every model and price, its history, and custom prices."""

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import streamlit as st

from core.pricing import PROVIDERS, PriceOverride, as_row
from db.prices import RATE_FIELDS, PriceError, delete_override, save_override
from ui.auth import actor, can
from ui.charts import draw
from ui.charts.prices import price_history
from ui.format import escape_markdown
from ui.prices_text import RATE_LABELS as PRICE_LABELS
from ui.prices_text import SORTS, price_columns, price_table, prices_as_of, prices_help
from ui.resources import engine, price_book, prices_changed

# the rates a custom price sets, labelled as the price tables label them
RATE_LABELS = {name: PRICE_LABELS[name] for name in RATE_FIELDS}

st.title("Price book")
book = price_book()
today = datetime.now(UTC).date()
st.caption(
    "Prices per 1M tokens from the price list that ships with Costdesk, with your custom prices "
    "on top. Every cost in Costdesk is computed from this one table.",
    help=prices_help(),
)

if flash := st.session_state.pop("prices_flash", None):
    st.success(flash)

table_tab, history_tab, custom_tab = st.tabs(["All models", "Price history", "Custom prices"])

with table_tab:
    c1, c2, c3, c4 = st.columns([2, 2, 1.4, 1.4])
    query = c1.text_input("Search models", key="prices_search", placeholder="e.g. gpt-4o, claude")
    providers = c2.multiselect(
        "Providers", [*PROVIDERS, "custom"], key="prices_providers", placeholder="All providers"
    )
    sort = c3.selectbox("Sort by", list(SORTS), key="prices_sort")
    when = c4.date_input("Prices on", value=today, key="prices_when")
    rows = [
        r
        for r in book.table(when)
        if (not query or query.strip().lower() in r.model)
        and (not providers or r.provider in providers)
    ]
    count = f"{len(rows):,} model" + ("" if len(rows) == 1 else "s")
    st.caption(f"{count} · {prices_as_of(when)}", help=prices_help())
    st.dataframe(
        price_table(rows, sort),
        hide_index=True,
        width="stretch",
        height=520,
        column_config=price_columns(),
    )
    if not rows:
        st.info("No model matches. Clear the search, or add the model under **Custom prices**.")

with history_tab:
    names = sorted({r.model for r in book.table()})
    default = names.index("gpt-4o") if "gpt-4o" in names else 0
    model = st.selectbox("Model", names, index=default, key="prices_history_model")
    history = book.history(model)
    periods = pd.DataFrame([as_row(r) for r in history])
    draw(price_history(periods, today), key="prices_history_chart")
    st.dataframe(
        price_table(history)[["effective_from", *RATE_LABELS, "source"]],
        hide_index=True,
        width="stretch",
        column_config=price_columns(),
    )


def _rate_inputs(prefix: str, current: PriceOverride | None) -> dict[str, Decimal | None]:
    cols = st.columns(3)
    rates: dict[str, Decimal | None] = {}
    for i, (name, label) in enumerate(RATE_LABELS.items()):
        value = getattr(current, name) if current else None
        entered = cols[i % 3].number_input(
            label,
            min_value=0.0,
            value=float(value) if value is not None else None,
            step=0.01,
            format="%.6f",
            key=f"{prefix}_{name}",
            placeholder="required" if name in ("input_mtok", "output_mtok") else "as snapshot",
        )
        rates[name] = None if entered is None else Decimal(str(entered))
    return rates


def _price_form(prefix: str, current: PriceOverride | None) -> None:
    with st.form(f"{prefix}_form", clear_on_submit=current is None):
        c1, c2, c3 = st.columns(3)
        model = c1.text_input(
            "Model",
            value=current.model if current else "",
            key=f"{prefix}_model",
            help="A snapshot model (gpt-4o) to override it, or a new name (my-finetune).",
        )
        provider = c2.text_input(
            "Provider", value=current.provider if current else "custom", key=f"{prefix}_provider"
        )
        effective = c3.date_input(
            "Effective from",
            value=current.effective_from if current else today,
            key=f"{prefix}_effective",
        )
        rates = _rate_inputs(prefix, current)
        c4, c5 = st.columns([1, 2])
        window = c4.number_input(
            "Context window (tokens)",
            min_value=0,
            step=1000,
            key=f"{prefix}_window",
            value=current.context_window if current and current.context_window else None,
        )
        note = c5.text_input("Note", value=current.note if current else "", key=f"{prefix}_note")
        label = "Save changes" if current else "Add custom price"
        if st.form_submit_button(label, type="primary", disabled=not can("price.write")):
            try:
                saved = save_override(
                    engine(),
                    model=model,
                    provider=provider,
                    effective_from=effective,
                    rates=rates,
                    context_window=window or None,
                    note=note,
                    override_id=current.id if current else None,
                    actor=actor(),
                )
            except PriceError as exc:
                st.error(escape_markdown(exc))
            else:
                prices_changed()
                st.session_state["prices_flash"] = (
                    f"Saved {escape_markdown(saved.model)} from {saved.effective_from}."
                )
                st.rerun()


with custom_tab:
    st.write(
        "Negotiated discounts, fine-tuned or self-hosted models. A custom price wins over the "
        "snapshot from its effective date on; empty optional prices keep the snapshot's value. "
        "After a change, re-price stored logs to apply it to past traffic."
    )
    overrides = book.overrides
    if overrides:
        custom = price_table([o.to_rates(o.model) for o in overrides])
        st.dataframe(
            custom.assign(note=[o.note for o in overrides]),
            hide_index=True,
            width="stretch",
            column_config=price_columns() | {"note": st.column_config.TextColumn("Note")},
        )
        labels = {f"#{o.id} · {o.model} from {o.effective_from}": o for o in overrides}
        chosen = labels[st.selectbox("Edit or delete", list(labels), key="prices_edit_pick")]
        _price_form(f"prices_edit_{chosen.id}", chosen)
        if st.button(f"Delete #{chosen.id}", key="prices_delete", disabled=not can("price.write")):
            delete_override(engine(), chosen.id, actor=actor())
            prices_changed()
            st.session_state["prices_flash"] = f"Deleted custom price #{chosen.id}."
            st.rerun()
    else:
        st.info("No custom prices yet. Add one below.")
    st.subheader("Add a custom price")
    _price_form("prices_new", None)
