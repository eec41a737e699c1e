"""Upload logs: drop request-log files, map CSV columns, read the ingest report, manage uploads."""

import streamlit as st

from core.costs import picos_to_usd
from core.logs import (
    FIELDS,
    REQUIRED_FIELDS,
    FileFormatError,
    csv_header,
    file_shape,
    format_descriptions,
    guess_mapping,
)
from core.text import plural
from db.ingest import (
    IngestReport,
    delete_upload,
    ingest_upload,
    list_uploads,
    load_mapping,
    reprice,
    save_mapping,
)
from integrations.settings import SettingError, format_state
from ui.auth import actor, can, needs
from ui.format import escape_markdown, usd
from ui.ingest_report import history_frame, show_report
from ui.resources import data_changed, engine, price_book
from ui.uploads import (
    delete_notice,
    deleted_text,
    file_head,
    limit_text,
    stored_rows,
    upload_limit_mb,
    within_limit,
)

AUTO = "Detect automatically"
COUNT = st.column_config.NumberColumn(format="localized")
NONE = "(not in this file)"

st.title("Upload logs")
st.caption(
    "Drop request logs — flat JSON lines or a JSON array, OpenAI Chat/Responses/Embeddings "
    "objects, Batch API output, Anthropic Messages, Usage/Costs API pages, or CSV. Each request "
    "is validated, priced at its own date and stored once: uploading a file again adds nothing. "
    "Prompts and completions are never stored; API keys are redacted."
)

if flash := st.session_state.pop("upload_flash", None):
    st.success(flash)

LIMIT_MB = upload_limit_mb()
CAN_UPLOAD = needs("upload")
chosen_files = st.file_uploader(
    "Log files",
    accept_multiple_files=True,
    key="upload_files",
    help="Several files at once.",
    disabled=not CAN_UPLOAD,
)
st.caption(limit_text(LIMIT_MB))
files = within_limit(chosen_files or [], LIMIT_MB)
c1, c2 = st.columns(2)
FORMATS = format_descriptions()
fmt_label = c1.selectbox(
    "Format",
    [AUTO, *FORMATS],
    key="upload_format",
    format_func=lambda f: f if f == AUTO else f"{f} — {FORMATS[f]}",
)
project = c2.text_input(
    "Project", key="upload_project", placeholder="optional: for records that name no project"
)
fmt = None if fmt_label == AUTO else fmt_label


def _is_csv(head: bytes, name: str) -> bool:
    if fmt:
        return fmt == "csv"
    try:
        return file_shape(head, name) == "csv"
    except FileFormatError:
        return False


mappings: dict[str, dict[str, str]] = {}
for upload in files:
    head = file_head(upload)
    if not _is_csv(head, upload.name):
        continue
    columns = csv_header(head)
    if not columns:
        continue
    remembered = load_mapping(engine(), columns) or guess_mapping(columns)
    with st.expander(f"Map the columns of {escape_markdown(upload.name)}", expanded=True):
        st.caption(
            "Pick the column that holds each field (remembered for files with this header). "
            f"Required: {', '.join(REQUIRED_FIELDS)}."
        )
        chosen, grid = {}, st.columns(3)
        for i, name in enumerate(FIELDS):
            default = remembered.get(name)
            options = [NONE, *columns]
            pick = grid[i % 3].selectbox(
                name + (" *" if name in REQUIRED_FIELDS else ""),
                options,
                index=options.index(default) if default in options else 0,
                key=f"upload_map_{upload.file_id}_{name}",
            )
            if pick != NONE:
                chosen[name] = pick
        mappings[upload.file_id] = chosen

try:
    format_settings = format_state()
except SettingError as problem:
    st.error(f"{escape_markdown(str(problem))}. Fix the setting before uploading these logs.")
    format_settings = None
go_label = f"Ingest {plural(len(files), 'file')}" if files else "Ingest"
ready = bool(files) and CAN_UPLOAD and format_settings is not None
if st.button(go_label, key="upload_go", type="primary", disabled=not ready):
    bar = st.progress(0.0, text="Reading…")
    reports: list[IngestReport] = []
    for n, upload in enumerate(files):
        mapping = mappings.get(upload.file_id)
        if mapping:
            save_mapping(engine(), csv_header(file_head(upload)), mapping, actor=actor())

        label = escape_markdown(upload.name)  # the progress text is Markdown

        def step(done: int, total: int | None, n: int = n, name: str = label) -> None:
            share = (done / total) if total else 1.0
            bar.progress(min(1.0, (n + share) / len(files)), text=f"{name}: {share:.0%}")

        reports.append(
            ingest_upload(
                engine(),
                upload,
                file_name=upload.name,
                fmt=fmt,
                project=project.strip() or None,
                mapping=mapping,
                book=price_book(),
                progress=step,
                state=format_settings,
                actor=actor(),
            )
        )
    bar.progress(1.0, text="Done")
    st.session_state["upload_reports"] = reports
    data_changed()

if reports := st.session_state.get("upload_reports"):
    show_report(reports)

st.subheader("Upload history")
history = list_uploads(engine())
if history.empty:
    st.info(
        "No uploads yet. Drop a log file above, or from a shell run "
        "`python cli.py ingest FILE` (or `python cli.py demo` for demo data)."
    )
else:
    st.dataframe(history_frame(history), hide_index=True, width="stretch", key="upload_history",
                 column_config={"id": st.column_config.NumberColumn("#", format="%d"),
                                "Uploaded": st.column_config.DatetimeColumn(
                                    format="YYYY-MM-DD HH:mm"),
                                **{c: COUNT for c in ("Requests", "Duplicates", "Conflicts",
                                                      "Rejected", "Unpriced")}})  # fmt: skip
    d1, d2, d3 = st.columns([2, 1.5, 0.8], vertical_alignment="bottom")
    labels = {
        int(r.id): f"#{r.id} {r.file_name} ({plural(int(r.accepted), 'request')})"
        for r in history.itertuples()
    }
    may_delete = can("upload.delete")
    target = d1.selectbox(
        "Upload to delete",
        list(labels),
        format_func=labels.get,
        key="upload_delete_id",
        disabled=not may_delete,
        help=None if may_delete else "Deleting uploads needs administrator rights.",
    )
    rows = stored_rows(history, target)
    sure = d2.checkbox(
        f"Also delete its {plural(rows, 'request')}",
        key="upload_delete_confirm",
        disabled=not may_delete,
    )
    st.warning(delete_notice(history, target), icon=":material/warning:")
    if d3.button("Delete upload", key="upload_delete", disabled=not sure):
        with st.spinner(f"Deleting upload #{target} and its requests, then redoing the daily "
                        "totals of its days…"):  # fmt: skip
            removed = delete_upload(engine(), target, actor=actor())
        data_changed()
        st.session_state["upload_flash"] = deleted_text(history, target, removed or 0)
        st.session_state.pop("upload_reports", None)
        st.rerun()

st.divider()
st.caption(
    "Changed a price? Recompute every stored cost and the daily totals with today's price book."
)
if st.button(
    "Re-price all",
    key="upload_reprice",
    disabled=not can("reprice"),
    help=None if can("reprice") else "Re-pricing needs administrator rights.",
):
    with st.status("Re-pricing every stored request and rebuilding the daily totals…") as status:
        result = reprice(engine(), price_book(), actor=actor())
        status.update(label="Re-priced", state="complete")
    data_changed()
    st.session_state["upload_flash"] = (
        f"Re-priced {plural(result.rows, 'request')}: {usd(picos_to_usd(result.before_pusd))} → "
        f"{usd(picos_to_usd(result.after_pusd))}."
    )
    st.rerun()
