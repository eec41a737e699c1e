"""Uploads that one ingest adds to: a rolling upload (`upload_key`) and a file ingested again.
A run that fails part-way must leave what earlier runs stored under the upload."""

from __future__ import annotations

import io

import orjson
import pytest
from sqlalchemy import Engine, func, select

from core.logs import CHUNK_ROWS
from db.ingest import ingest_file
from db.ingest import writer as writer_mod
from db.models import RequestLog, Upload
from tests.actors import ADMIN

CHUNKS = 2
BLOCK = CHUNK_ROWS * CHUNKS  # the records of one transaction
RECORD = {"timestamp": "2025-06-01T10:00:00Z", "model": "gpt-4o-mini", "input_tokens": 1000,
          "output_tokens": 200}  # fmt: skip


@pytest.fixture(autouse=True)
def _transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", CHUNKS)


def records(first: int, count: int) -> list[bytes]:
    return [orjson.dumps({**RECORD, "request_id": f"r{n}"}) for n in range(first, first + count)]


def array(items: list[bytes], *, closed: bool = True) -> io.BytesIO:
    """A JSON array of the items; unclosed, it fails once its last element is read."""
    return io.BytesIO(b"[" + b",\n".join(items) + (b"]" if closed else b""))


def state(engine: Engine) -> tuple[list[tuple], int]:
    """(uploads as (sha256, accepted), requests stored)."""
    table = Upload.__table__
    with engine.connect() as conn:
        found = conn.execute(select(table.c.sha256, table.c.accepted).order_by(table.c.id)).all()
        stored = conn.execute(select(func.count()).select_from(RequestLog.__table__)).scalar()
    return [tuple(row) for row in found], stored


def test_a_rolling_upload_adds_up_and_survives_a_failed_run(engine: Engine) -> None:
    first = ingest_file(
        engine, array(records(0, BLOCK)), file_name="a.json", upload_key="live:k:d", actor=ADMIN
    )
    second = ingest_file(
        engine, array(records(BLOCK, 2)), file_name="b.json", upload_key="live:k:d", actor=ADMIN
    )
    assert first.upload_id == second.upload_id
    assert state(engine) == ([("live:k:d", BLOCK + 2)], BLOCK + 2)
    # a run whose first transaction holds only stored records, then fails: nothing goes
    failing = array(records(0, BLOCK + 1), closed=False)
    broken = ingest_file(engine, failing, file_name="c.json", upload_key="live:k:d", actor=ADMIN)
    assert broken.file_error == "the JSON array is not closed (the file ends early)"
    assert (broken.accepted, broken.duplicates, broken.upload_id) == (0, BLOCK, first.upload_id)
    assert state(engine) == ([("live:k:d", BLOCK + 2)], BLOCK + 2)


def test_a_file_ingested_again_that_fails_keeps_the_first_runs_rows(engine: Engine) -> None:
    data = array(records(0, BLOCK + 1), closed=False).getvalue()
    first = ingest_file(engine, io.BytesIO(data), file_name="cut.json", actor=ADMIN)
    assert first.file_error and first.accepted == BLOCK  # one whole transaction went in
    again = ingest_file(engine, io.BytesIO(data), file_name="cut.json", actor=ADMIN)
    assert again.file_error and (again.accepted, again.duplicates) == (0, BLOCK)
    assert again.upload_id == first.upload_id
    uploads, stored = state(engine)
    assert [accepted for _, accepted in uploads] == [BLOCK] and stored == BLOCK
