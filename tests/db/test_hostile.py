"""Hostile input and faults on SQLite and PostgreSQL: nothing lost, nothing leaked, no crash.

Each case is a record or an event an attacker or an unlucky user produces; the ingest must
store every valid record, report each bad one with its line, field and reason, and never stop
with a traceback.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, text

import core.logs.parse as parse_mod
import db.ingest.writer as writer_mod
from core.logs.privacy import SECRET_PATTERN
from core.pricing import PriceBook
from db.ingest import delete_upload, ingest_file, list_uploads, reprice
from db.prices import save_override
from db.queries import UsageFilters, usage_report
from tests.actors import ADMIN

BOOK = PriceBook.from_snapshot()


def flat(request_id: str, **overrides: object) -> dict:
    record = {"timestamp": "2025-06-01T10:00:00Z", "request_id": request_id,
              "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 200}  # fmt: skip
    return {**record, **overrides}


def write(path: Path, lines: list[bytes | dict]) -> Path:
    path.write_bytes(
        b"\n".join(x if isinstance(x, bytes) else orjson.dumps(x) for x in lines) + b"\n"
    )
    return path


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


HOSTILE = [
    ("output_tokens", b'"output_tokens": 1e308'),
    ("output_tokens", b'"output_tokens": 9999999999999999999999'),
    ("input_tokens", b'"input_tokens": 18446744073709551615'),
    ("latency_ms", b'"latency_ms": 1e300'),
    ("max_tokens", b'"max_tokens": 9223372036854775808'),
    ("timestamp", b'"timestamp": "0001-01-01T00:00:00+01:00"'),
    ("output_tokens", b'"output_tokens": 900000000000'),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE, ids=[v.decode()[:30] for _, v in HOSTILE])
def test_one_bad_value_is_one_rejected_record(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: bytes
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 50)
    lines: list[bytes | dict] = [flat(f"r{i}") for i in range(300)]
    record = {k: v for k, v in flat("bad").items() if k != field}
    lines[200] = orjson.dumps(record)[:-1] + b", " + value + b"}"
    report = ingest_file(engine, write(tmp_path / "f.jsonl", lines), book=BOOK, actor=ADMIN)
    assert report.file_error is None
    assert (report.accepted, report.rejected) == (299, 1)
    assert [(e.line, e.field) for e in report.errors] == [(201, field)]
    assert scalar(engine, "SELECT count(*) FROM request_log") == 299


def test_nul_and_control_characters_in_labels_are_removed_not_fatal(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [flat("n1", project="a\u0000b", user="x\x1b[31my"), flat("n2", model="gpt-4o\t")]
    report = ingest_file(engine, write(tmp_path / "f.jsonl", lines), book=BOOK, actor=ADMIN)
    assert (report.accepted, report.rejected) == (2, 0)
    assert scalar(engine, "SELECT project FROM request_log WHERE request_id = 'n1'") == "ab"
    assert scalar(engine, "SELECT model_id FROM request_log WHERE request_id = 'n2'") == "gpt-4o"


def test_a_rollup_total_past_64_bits_stops_the_file_cleanly(engine: Engine, tmp_path: Path) -> None:
    save_override(engine, model="vault-llm", effective_from=date(2025, 1, 1),
                  rates={"input_mtok": Decimal(10_000), "output_mtok": Decimal(10_000)}, actor=ADMIN)  # fmt: skip
    huge = [flat(f"h{i}", model="vault-llm", input_tokens=100_000_000, output_tokens=100_000_000)
            for i in range(6)]  # fmt: skip  # 6 x $2,000,000 in one day and group
    report = ingest_file(engine, write(tmp_path / "huge.jsonl", huge), actor=ADMIN)
    assert "$9.2M" in (report.file_error or "")
    assert scalar(engine, "SELECT count(*) FROM request_log") == 0  # no half-stored transaction
    assert usage_report(engine, UsageFilters()).kpis.requests == 0  # pages still answer


@pytest.mark.parametrize(
    "first",
    [
        b'{"timestamp": "2025-06-01T10:00:00Z", "request_id": "cut',
        b'{"messages": "' + b"x" * 100_000 + b'", "request_id": "big"}',
        orjson.dumps({f"k{i}": i for i in range(10_000)}),
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"timestamp": NaN}',
        b'{"request_id": "\xff\xfe", "x": "\x00"}',
    ],
    ids=["truncated", "huge prompt", "10k keys", "deep nesting", "NaN", "bad utf-8"],
)
def test_the_first_line_does_not_decide_the_file(
    engine: Engine, tmp_path: Path, first: bytes
) -> None:
    lines = [first, *[flat(f"v{i}") for i in range(20)]]
    report = ingest_file(engine, write(tmp_path / "f.jsonl", lines), book=BOOK, actor=ADMIN)
    assert report.file_error is None and report.accepted == 20
    assert [e.line for e in report.errors] == [1]


def test_no_secret_survives_into_rows_names_or_reasons(engine: Engine, tmp_path: Path) -> None:
    key = "sk-proj-" + "Ab9" * 12
    lines = [
        flat("s1", provider=key, service_tier=key, finish_reason=f"Bearer {key}",
             user="AKIAABCDEFGHIJKLMNOP", feature="ghp_" + "z" * 36),
        flat("s2", input_tokens=key),  # rejected: its reason must not repeat the key
    ]  # fmt: skip
    report = ingest_file(
        engine, write(tmp_path / f"logs-{key}.jsonl", lines), book=BOOK, actor=ADMIN
    )
    assert report.accepted == 1 and report.rejected == 1
    assert key not in report.errors[0].reason and key not in report.file_name
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM request_log")).mappings().one()
    leaked = [
        name
        for name, value in row.items()
        if isinstance(value, str) and SECRET_PATTERN.search(value)
    ]
    assert leaked == []
    assert key not in list_uploads(engine)["file_name"].iloc[0]


def test_upload_counts_are_what_is_stored_after_a_crash(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 3)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 1)
    path = write(tmp_path / "f.jsonl", [flat(f"c{i}") for i in range(9)])
    real = writer_mod.add_sums
    calls = {"n": 0}

    def crash(conn, sums):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(conn, sums)

    monkeypatch.setattr(writer_mod, "add_sums", crash)
    with pytest.raises(RuntimeError):
        ingest_file(engine, path, book=BOOK, actor=ADMIN)
    monkeypatch.setattr(writer_mod, "add_sums", real)
    ingest_file(engine, path, book=BOOK, actor=ADMIN)
    upload = list_uploads(engine).iloc[0]
    assert upload["accepted"] == 9 == scalar(engine, "SELECT count(*) FROM request_log")
    assert upload["cost_pusd"] == scalar(engine, "SELECT sum(cost_pusd) FROM request_log")


def _after_first_transaction(monkeypatch: pytest.MonkeyPatch, action) -> None:
    """Run `action` once, between the ingest's first and second transactions."""
    real = writer_mod.Writer.flush
    calls = {"n": 0}

    def flush(self) -> None:
        real(self)
        calls["n"] += 1
        if calls["n"] == 1:
            action()

    monkeypatch.setattr(writer_mod.Writer, "flush", flush)


def test_a_reprice_during_an_ingest_leaves_no_stale_price(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 5)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 1)
    path = write(tmp_path / "f.jsonl", [flat(f"p{i}", model="house-llm") for i in range(40)])

    def price_and_reprice() -> None:  # another user, another session
        save_override(engine, model="house-llm", effective_from=date(2025, 1, 1),
                      rates={"input_mtok": Decimal(1), "output_mtok": Decimal(2)}, actor=ADMIN)  # fmt: skip
        reprice(engine, actor=ADMIN)

    _after_first_transaction(monkeypatch, price_and_reprice)
    report = ingest_file(engine, path, actor=ADMIN)
    assert report.accepted == 40
    # 1000 x $1 + 200 x $2 per 1M tokens = $0.0014 a request, every one of them
    assert scalar(engine, "SELECT count(*) FROM request_log WHERE NOT priced") == 0
    assert scalar(engine, "SELECT sum(cost_pusd) FROM request_log") == 40 * 1_400_000_000
    assert scalar(engine, "SELECT sum(cost_pusd) FROM daily_rollup") == 40 * 1_400_000_000
    assert list_uploads(engine)["cost_pusd"].max() == 40 * 1_400_000_000
    assert report.cost_pusd == 40 * 1_400_000_000


def test_deleting_an_upload_during_its_ingest_stops_it_with_a_reason(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 5)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 1)
    path = write(tmp_path / "f.jsonl", [flat(f"d{i}") for i in range(20)])

    def delete_it() -> None:
        delete_upload(engine, int(list_uploads(engine)["id"].max()), actor=ADMIN)

    _after_first_transaction(monkeypatch, delete_it)
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert "deleted" in (report.file_error or ""), report.file_error
    assert scalar(engine, "SELECT count(*) FROM request_log") == 0
    assert scalar(engine, "SELECT count(*) FROM daily_rollup") == 0


def _busy_once(monkeypatch: pytest.MonkeyPatch, on_call: int) -> None:
    """The database answers "busy" to the `on_call`-th chunk written, once."""
    from sqlalchemy.exc import OperationalError

    real = writer_mod.insert_new
    calls = {"n": 0}

    def insert_new(conn, rows):
        calls["n"] += 1
        if calls["n"] == on_call:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(conn, rows)

    monkeypatch.setattr(writer_mod, "insert_new", insert_new)


def test_a_busy_database_at_a_transactions_start_is_waited_for(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 5)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 2)
    _busy_once(monkeypatch, on_call=3)  # the first chunk of the second transaction
    report = ingest_file(
        engine, write(tmp_path / "f.jsonl", [flat(f"b{i}") for i in range(20)]), actor=ADMIN
    )
    assert (report.accepted, report.file_error) == (20, None)
    assert scalar(engine, "SELECT sum(requests) FROM daily_rollup") == 20


def test_a_database_busy_mid_transaction_stops_the_file_cleanly(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 5)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 2)
    _busy_once(monkeypatch, on_call=4)  # the second chunk of the second transaction
    path = write(tmp_path / "f.jsonl", [flat(f"m{i}") for i in range(20)])
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert "busy" in (report.file_error or "") and report.accepted == 10
    assert scalar(engine, "SELECT count(*) FROM request_log") == 10  # the whole first transaction
    assert scalar(engine, "SELECT sum(requests) FROM daily_rollup") == 10
    rerun = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (rerun.accepted, rerun.duplicates) == (10, 10)
