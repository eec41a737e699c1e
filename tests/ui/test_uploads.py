"""What the Upload page says before and after deleting an upload, and about the size limit."""

from __future__ import annotations

import pandas as pd

from ui.format import escape_markdown
from ui.uploads import delete_notice, deleted_text, later_duplicates, limit_text, too_large


def history(*rows: tuple[int, str, str, int, int]) -> pd.DataFrame:
    """Upload rows (id, file name, source, accepted, duplicates), newest first as listed."""
    columns = ["id", "file_name", "source", "accepted", "duplicates"]
    return pd.DataFrame(rows, columns=columns).sort_values("id", ascending=False)


UPLOADS = history(
    (1, "api.jsonl", "flat", 1_500, 0),
    (2, "other.csv", "csv", 10, 4),  # another source: shares no request with #1
    (3, "worker_[x].jsonl", "flat", 20, 7),
    (4, "again.jsonl", "flat", 5, 0),
)


def test_later_uploads_of_the_same_source_with_duplicates_may_share_rows() -> None:
    assert later_duplicates(UPLOADS, 1)["id"].tolist() == [3]
    assert later_duplicates(UPLOADS, 3).empty


def test_the_notice_names_the_rows_and_the_uploads_that_lose_them_too() -> None:
    notice = delete_notice(UPLOADS, 1)
    assert "removes the 1,500 requests stored under it" in notice
    assert "counted it as a duplicate" in notice
    assert f"#3 {escape_markdown('worker_[x].jsonl')} (7)" in notice
    assert "#2" not in notice and "#4" not in notice


def test_after_a_delete_the_page_says_how_to_restore() -> None:
    text = deleted_text(UPLOADS, 1, 1_500)
    assert text.startswith(f"Deleted upload #1 {escape_markdown('api.jsonl')} and its 1,500")
    assert f"ingest {escape_markdown('api.jsonl')} again" in text
    assert f"ingest their files again: #3 {escape_markdown('worker_[x].jsonl')}" in text
    alone = deleted_text(UPLOADS, 4, 5)
    assert alone.endswith(f"To restore them, ingest {escape_markdown('again.jsonl')} again.")
    assert "No later upload of this source found duplicates" in delete_notice(UPLOADS, 4)


def test_the_limit_is_stated_and_enforced_in_megabytes() -> None:
    assert limit_text(512).startswith("Up to 512 MB per file.")
    assert not too_large(512 * 2**20, 512) and too_large(512 * 2**20 + 1, 512)
