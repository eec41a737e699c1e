"""Upload page helpers: the size limit, a file's head, and what deleting an upload removes."""

from __future__ import annotations

from typing import BinaryIO

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from core.text import plural
from ui.format import escape_markdown

HEAD_BYTES = 1 << 20  # enough to tell a CSV and read its header
MB = 1 << 20
CLI_HINT = "`python cli.py ingest FILE` in a shell reads it from disk, with no size limit"


def upload_limit_mb() -> int:
    """The largest file the uploader accepts, in MB (`server.maxUploadSize`)."""
    return int(st.get_option("server.maxUploadSize"))


def limit_text(limit_mb: int) -> str:
    """The upload limit, stated next to the uploader."""
    return f"Up to {limit_mb:,} MB per file. For a larger log, {CLI_HINT}."


def too_large(size_bytes: int, limit_mb: int) -> bool:
    """Whether a file is over the upload limit."""
    return size_bytes > limit_mb * MB


def too_large_text(file_name: str, size_bytes: int, limit_mb: int) -> str:
    """Why a file was refused, and what to do instead."""
    return (
        f"**{escape_markdown(file_name)}** is {size_bytes / MB:,.1f} MB, over the "
        f"{limit_mb:,} MB upload limit, so it was not read. Split it, or {CLI_HINT}."
    )


def within_limit(files: list[UploadedFile], limit_mb: int) -> list[UploadedFile]:
    """The files within the upload limit; each larger one is refused with a message."""
    kept = []
    for upload in files:
        if too_large(upload.size, limit_mb):
            st.error(too_large_text(upload.name, upload.size, limit_mb), icon=":material/error:")
        else:
            kept.append(upload)
    return kept


def file_head(upload: BinaryIO) -> bytes:
    """The first MiB of an uploaded file, without copying the rest of it."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    return head


def _label(row: pd.Series) -> str:
    """`#3 api.jsonl`, escaped for Markdown."""
    return f"#{int(row['id'])} {escape_markdown(row['file_name'])}"


def stored_rows(history: pd.DataFrame, upload_id: int) -> int:
    """The requests stored under an upload: what deleting it removes."""
    return int(history.loc[history["id"] == upload_id, "accepted"].iloc[0])


def later_duplicates(history: pd.DataFrame, upload_id: int) -> pd.DataFrame:
    """Later uploads into the same source that found requests already stored: the uploads
    whose requests may be stored under `upload_id` (a request is stored once, under the first
    upload that brought it)."""
    source = history.loc[history["id"] == upload_id, "source"].iloc[0]
    later = (history["id"] > upload_id) & (history["source"] == source)
    return history[later & (history["duplicates"] > 0)].sort_values("id")


def delete_notice(history: pd.DataFrame, upload_id: int) -> str:
    """What deleting an upload removes, said before the delete."""
    row = history.loc[history["id"] == upload_id].iloc[0]
    rows = stored_rows(history, upload_id)
    text = (
        f"Deleting {_label(row)} removes the {plural(rows, 'request')} stored under it. "
        "A request is stored once, under the first upload that brought it: a later upload that "
        "sent the same request counted it as a duplicate and keeps no copy, so the delete takes "
        "it from that upload too."
    )
    later = later_duplicates(history, upload_id)
    if later.empty:
        return text + " No later upload of this source found duplicates."
    listed = ", ".join(f"{_label(r)} ({int(r['duplicates']):,})" for _, r in later.iterrows())
    return text + f" Later uploads of this source with duplicates: {listed}."


def deleted_text(history: pd.DataFrame, upload_id: int, removed: int) -> str:
    """What a delete removed and how to get the requests back."""
    row = history.loc[history["id"] == upload_id].iloc[0]
    text = (
        f"Deleted upload {_label(row)} and its {plural(removed, 'request')}. To restore them, "
        "ingest "
        f"{escape_markdown(row['file_name'])} again."
    )
    later = later_duplicates(history, upload_id)
    if later.empty:
        return text
    files = ", ".join(_label(r) for _, r in later.iterrows())
    return text + (
        " Requests that later uploads also sent come back under those uploads when you ingest "
        f"their files again: {files}."
    )
