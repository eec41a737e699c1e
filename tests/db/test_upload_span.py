"""Each upload remembers the span of days it stored: on ingest (both databases) and, for
uploads stored before the span was kept, from the rows under them (migration 0015)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, create_engine

from db.ingest import ingest_records, list_uploads
from db.migrations import migrate
from tests.actors import ADMIN

FIXTURE = Path(__file__).parent / "fixtures" / "costdesk-0008.sql"


def _call(rid: str, ts: str) -> dict:
    return {"timestamp": ts, "request_id": rid, "model": "gpt-4o-mini", "input_tokens": 100,
            "output_tokens": 10}  # fmt: skip


def test_an_upload_stores_the_span_of_its_requests(engine: Engine) -> None:
    calls = [
        _call("a", "2026-01-15T08:00:00Z"),
        _call("b", "2026-01-14T00:00:00Z"),  # the first day starts at midnight UTC
        _call("c", "2026-01-16T23:59:59Z"),
    ]
    report = ingest_records(engine, calls, source="s", file_name="jan.jsonl", actor=ADMIN)
    assert (report.first_day, report.last_day) == (date(2026, 1, 14), date(2026, 1, 16))
    again = ingest_records(engine, calls[:1], source="s", file_name="again.jsonl", actor=ADMIN)
    assert again.accepted == 0 and again.first_day is None  # nothing new stored
    uploads = list_uploads(engine).set_index("file_name")
    assert (uploads.loc["jan.jsonl", "first_day"], uploads.loc["jan.jsonl", "last_day"]) == (
        date(2026, 1, 14),
        date(2026, 1, 16),
    )
    assert uploads.loc["again.jsonl", ["first_day", "last_day"]].isna().all()


def test_uploads_stored_before_the_span_was_kept_get_it_from_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "costdesk-0008.db"
    raw = sqlite3.connect(path)
    raw.executescript(FIXTURE.read_text())  # one upload, rows on 2025-06-01 and 2025-06-02
    raw.close()
    engine = create_engine(f"sqlite:///{path}")
    assert "0015_upload_span" in migrate(engine)
    (upload,) = list_uploads(engine).itertuples()
    assert (upload.first_day, upload.last_day) == (date(2025, 6, 1), date(2025, 6, 2))
    engine.dispose()
