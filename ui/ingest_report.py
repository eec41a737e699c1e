"""The Upload page's ingest report: counts, what was stored (days, models, projects) with a link
to exactly those days on Usage, what was left out in plain words, and the rejected records."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.costs import picos_to_usd
from core.periods import span_text
from core.text import plural
from db.ingest import IngestReport
from ui.exports import csv_bytes
from ui.format import counts_text, escape_markdown, names_text, usd
from ui.scrub import scrub_lines

USAGE_PAGE = "views/usage.py"
LISTED = 8  # models or projects named before "and N more"


def _names(names: set[str], noun: str, nouns: str) -> str:
    """'models gpt-4o, gpt-4o-mini' (escaped), or 'no project named' for none."""
    if not names:
        return f"no {noun} named"
    shown = sorted(names)[:LISTED]
    more = f" and {len(names) - LISTED:,} more" if len(names) > LISTED else ""
    return f"{nouns if len(names) > 1 else noun} {names_text(shown)}{more}"


def stored_text(total: IngestReport) -> str:
    """What was just stored: how many requests, over which days, models and projects."""
    if not total.accepted or total.first_day is None or total.last_day is None:
        return "No new request was stored: everything read was already stored or was rejected."
    return (
        f"Stored {plural(total.accepted, 'request')} from "
        f"**{span_text(total.first_day, total.last_day)}** (UTC) · "
        f"{_names(total.models, 'model', 'models')} · "
        f"{_names(total.projects, 'project', 'projects')}."
    )


def usage_link(total: IngestReport) -> None:
    """A link that opens Usage on exactly the days just stored."""
    if not total.accepted or total.first_day is None or total.last_day is None:
        return
    days = span_text(total.first_day, total.last_day)
    params = {"from": total.first_day.isoformat(), "to": total.last_day.isoformat()}
    try:
        st.page_link(USAGE_PAGE, label=f"Open Usage on {days}", icon=":material/monitoring:",
                     query_params=params)  # fmt: skip
    except (StreamlitAPIException, KeyError):
        st.markdown(f"Open **Usage** and pick {days} (Custom).")


def metrics(total: IngestReport) -> None:
    """The five counts of the ingest."""
    m = st.columns(5)
    m[0].metric("Accepted", f"{total.accepted:,}")
    m[1].metric("Duplicates", f"{total.duplicates:,}", help="Already stored with the same content.")
    m[2].metric("Conflicts", f"{total.conflicts:,}",
                help="Same request id, different content: the first copy was kept.")  # fmt: skip
    m[3].metric("Rejected", f"{total.rejected:,}")
    m[4].metric("Cost added", usd(total.cost_usd))


def show_report(reports: list[IngestReport]) -> None:
    """The whole report of one ingest of one or more files."""
    st.subheader("Ingest report")
    total = IngestReport()
    for report in reports:
        total.merge(report)
    metrics(total)
    st.markdown(stored_text(total))
    usage_link(total)
    for report in reports:
        if report.file_error:
            st.error(
                f"**{escape_markdown(report.file_name)}**: {escape_markdown(report.file_error)}"
            )
    if total.unpriced_models:
        listed = counts_text(dict(sorted(total.unpriced_models.items())), "requests")
        st.warning(
            f"Unpriced models — stored, shown as unpriced and not counted as $0: {listed}. "
            "Add a custom price in Settings → Price book, then press Re-price all."
        )
    if lines := scrub_lines(total.scrubbed):
        st.info(
            "Left out before storing (prompts, completions and keys are never kept): "
            + "; ".join(lines)
            + ".",
            icon=":material/shield:",
        )
    if total.conflict_ids:
        st.warning(
            f"Conflicting request ids (first copy kept): {names_text(total.conflict_ids[:20])}"
        )
    if total.errors:
        rejected(total)


def rejected(total: IngestReport) -> None:
    """The rejected records and a CSV of them."""
    errors = pd.DataFrame([e.__dict__ for e in total.errors])
    st.markdown(f"**Rejected records** ({total.rejected:,})")
    st.dataframe(errors, hide_index=True, width="stretch", height=min(400, 40 + 35 * len(errors)))
    st.download_button(
        "Download rejected lines (CSV)",
        csv_bytes(errors),
        file_name="rejected.csv",
        mime="text/csv",
        key="upload_rejected_csv",
    )


def history_frame(history: pd.DataFrame) -> pd.DataFrame:
    """Upload history for display: the span of days each upload stored, money formatted."""
    spans = [
        span_text(first, last) if pd.notna(first) and pd.notna(last) else "—"
        for first, last in zip(history["first_day"], history["last_day"], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "id": history["id"],
            "Uploaded": history["created_at"],
            "File": history["file_name"],
            "Source": history["source"],
            "Days (UTC)": spans,
            "Requests": history["accepted"],
            "Cost": [usd(picos_to_usd(int(c))) for c in history["cost_pusd"]],
            "Duplicates": history["duplicates"],
            "Conflicts": history["conflicts"],
            "Rejected": history["rejected"],
            "Unpriced": history["unpriced"],
        }
    )
    quiet = [c for c in ("Conflicts", "Unpriced") if not frame[c].any()]
    return frame.drop(columns=quiet)  # columns that are zero everywhere say nothing
