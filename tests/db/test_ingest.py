"""db.ingest on real files, on SQLite and PostgreSQL: rules, idempotency, crashes, concurrency."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, text

import core.logs.parse as parse_mod
import db.ingest.files as files_mod
import db.ingest.parallel as parallel_mod
import db.ingest.writer as writer_mod
from core.pricing import PriceBook, PriceOverride
from db.imports import store_costs_page, store_usage_page
from db.ingest import (
    delete_upload,
    ingest_file,
    ingest_records,
    list_uploads,
    load_mapping,
    reprice,
    save_mapping,
)
from tests.actors import ADMIN

BOOK = PriceBook.from_snapshot()


def flat(request_id: str, **overrides: object) -> dict:
    """A valid flat-log record: gpt-4o-mini, 1000 in / 200 out on 2025-06-01."""
    record = {
        "timestamp": "2025-06-01T10:00:00Z",
        "request_id": request_id,
        "model": "gpt-4o-mini",
        "input_tokens": 1000,
        "output_tokens": 200,
        "latency_ms": 800,
        "status": 200,
        "error_type": None,
        "project": "search",
    }
    return {**record, **overrides}


def write_jsonl(path: Path, records: list[dict], *, crlf: bool = False, bom: bool = False) -> Path:
    end = b"\r\n" if crlf else b"\n"
    body = end.join(orjson.dumps(r) for r in records) + end
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body)
    return path


def scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def assert_rollups_match_rows(engine: Engine) -> None:
    """Rollups and histograms hold exactly the stored rows (no doubles, nothing lost)."""
    rows = scalar(engine, "SELECT count(*) FROM request_log")
    assert scalar(engine, "SELECT coalesce(sum(requests), 0) FROM daily_rollup") == rows
    assert scalar(engine, "SELECT coalesce(sum(count), 0) FROM output_histogram") == rows
    timed = scalar(engine, "SELECT count(latency_ms) FROM request_log")
    assert scalar(engine, "SELECT coalesce(sum(count), 0) FROM latency_histogram") == timed
    assert scalar(engine, "SELECT coalesce(sum(count), 0) FROM latency_daily") == timed
    assert scalar(engine, "SELECT coalesce(sum(cost_pusd), 0) FROM daily_rollup") == scalar(
        engine, "SELECT coalesce(sum(cost_pusd), 0) FROM request_log"
    )


def crash_on_second_chunk(real):
    """`add_sums` that fails on the second chunk written: a crash mid-file."""
    calls = {"n": 0}

    def add_sums(conn, sums):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(conn, sums)

    return add_sums


def test_flat_file_keeps_valid_lines_and_reports_each_bad_one(
    engine: Engine, tmp_path: Path
) -> None:
    records = [
        flat("a1"),
        flat("a2", model="gpt-4o", input_tokens=2000, cached_input_tokens=1024, output_tokens=500),
        flat("bad-ts", timestamp="2025-06-01T10:00:00"),
        flat("bad-count", input_tokens=80.5),
        flat("bad-bool", output_tokens=True),
        {k: v for k, v in flat("no-model").items() if k != "model"},
    ]
    path = write_jsonl(tmp_path / "log.jsonl", records, crlf=True, bom=True)
    path.write_bytes(path.read_bytes() + b"\r\n\r\n")  # trailing blank lines are fine
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (report.format, report.source) == ("flat", "flat")
    assert (report.accepted, report.rejected, report.duplicates) == (2, 4, 0)
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "timestamp"), (4, "input_tokens"), (5, "output_tokens"), (6, "model"),
    ]  # fmt: skip
    assert all(e.file == "log.jsonl" and e.reason for e in report.errors)
    # a1: 1000 x 0.15 + 200 x 0.60 per 1M = 0.00015 + 0.00012 = 0.00027
    # a2: 976 x 2.50 + 1024 x 1.25 + 500 x 10.00 per 1M = 0.00244 + 0.00128 + 0.005 = 0.00872
    assert report.cost_usd == Decimal("0.00899")
    assert scalar(engine, "SELECT count(*) FROM request_log") == 2
    assert_rollups_match_rows(engine)


def test_reingest_adds_nothing_and_counts_duplicates(engine: Engine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [flat(f"r{i}") for i in range(5)])
    first = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    again = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (first.accepted, again.accepted, again.duplicates, again.cost_pusd) == (5, 0, 5, 0)
    assert scalar(engine, "SELECT count(*) FROM request_log") == 5
    assert len(list_uploads(engine)) == 1  # the same file re-uses its upload
    assert_rollups_match_rows(engine)


def test_project_option_fills_flat_rows_without_one(engine: Engine, tmp_path: Path) -> None:
    records = [flat("r1", project=None), flat("r2", project="own")]
    path = write_jsonl(tmp_path / "log.jsonl", records)
    report = ingest_file(engine, path, project="billing", book=BOOK, actor=ADMIN)
    assert (report.accepted, report.source) == (2, "flat:billing")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT request_id, project FROM request_log")).all()
        rolled = conn.execute(text("SELECT project, requests FROM daily_rollup")).all()
    assert sorted(stored) == [("r1", "billing"), ("r2", "own")]
    assert sorted(rolled) == [("billing", 1), ("own", 1)]


def test_conflicting_duplicate_is_flagged_and_first_kept(engine: Engine, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [flat("x1"), flat("x1"), flat("x1", output_tokens=999), flat("x2")]
    )
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (report.accepted, report.duplicates, report.conflicts) == (2, 1, 1)
    later = write_jsonl(tmp_path / "b.jsonl", [flat("x2", input_tokens=5)])
    second = ingest_file(engine, later, book=BOOK, actor=ADMIN)
    assert (second.accepted, second.conflicts, second.conflict_ids) == (0, 1, ["x2"])
    assert scalar(engine, "SELECT output_tokens FROM request_log WHERE request_id = 'x1'") == 200
    assert scalar(engine, "SELECT input_tokens FROM request_log WHERE request_id = 'x2'") == 1000


def test_crash_mid_file_then_rerun_completes_without_doubles(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 3)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 2)
    path = write_jsonl(tmp_path / "big.jsonl", [flat(f"c{i}", output_tokens=i) for i in range(10)])
    real = writer_mod.add_sums
    monkeypatch.setattr(writer_mod, "add_sums", crash_on_second_chunk(real))
    with pytest.raises(RuntimeError):
        ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert scalar(engine, "SELECT count(*) FROM request_log") == 6  # one whole transaction
    assert_rollups_match_rows(engine)
    monkeypatch.setattr(writer_mod, "add_sums", real)
    rerun = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (rerun.accepted, rerun.duplicates) == (4, 6)
    assert scalar(engine, "SELECT count(*) FROM request_log") == 10
    assert_rollups_match_rows(engine)


def test_two_concurrent_ingests_lose_nothing(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 50)
    a = write_jsonl(tmp_path / "a.jsonl", [flat(f"k{i}") for i in range(0, 300)])
    b = write_jsonl(tmp_path / "b.jsonl", [flat(f"k{i}") for i in range(150, 450)])
    reports = []
    threads = [
        threading.Thread(
            target=lambda p=p: reports.append(ingest_file(engine, p, book=BOOK, actor=ADMIN))
        )
        for p in (a, b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.accepted for r in reports) == 450
    assert sum(r.duplicates for r in reports) == 150
    assert scalar(engine, "SELECT count(*) FROM request_log") == 450
    assert_rollups_match_rows(engine)


def test_unpriced_models_are_stored_and_reported(engine: Engine) -> None:
    report = ingest_records(
        engine,
        [flat("u1", model="house-llm-7b"), flat("u2")],
        source="app",
        file_name="t",
        book=BOOK,
        actor=ADMIN,
    )
    assert report.unpriced_models == {"house-llm-7b": 1}
    assert scalar(engine, "SELECT count(*) FROM request_log WHERE NOT priced") == 1
    assert scalar(engine, "SELECT sum(unpriced_requests) FROM daily_rollup") == 1


def test_each_event_is_priced_at_its_own_date_with_overrides(engine: Engine) -> None:
    override = PriceOverride(
        model="gpt-4o-mini", effective_from=date(2025, 6, 15), input_mtok=Decimal("1"),
        output_mtok=Decimal("2"), id=1,
    )  # fmt: skip
    book = PriceBook.from_snapshot([override])
    records = [flat("before"), flat("after", timestamp="2025-06-20T08:00:00+02:00")]
    report = ingest_records(engine, records, source="app", file_name="t", book=book, actor=ADMIN)
    # before: 0.00027 (snapshot); after: 1000 x 1.00 + 200 x 2.00 per 1M = 0.0014
    assert report.cost_usd == Decimal("0.00167")
    after = scalar(engine, "SELECT cost_pusd FROM request_log WHERE request_id = 'after'")
    assert after == 1_400_000_000  # 0.0014 USD in pico-dollars


def test_reprice_after_a_price_change(engine: Engine) -> None:
    ingest_records(engine, [flat("p1")], source="app", file_name="t", book=BOOK, actor=ADMIN)
    cheaper = PriceOverride(
        model="gpt-4o-mini", effective_from=date(2025, 1, 1), input_mtok=Decimal("0.10"),
        output_mtok=Decimal("0.50"),
    )  # fmt: skip
    result = reprice(engine, PriceBook.from_snapshot([cheaper]), actor=ADMIN)
    # 1000 x 0.10 + 200 x 0.50 per 1M = 0.0001 + 0.0001 = 0.0002 (was 0.00027)
    assert (result.rows, result.change_usd) == (1, Decimal("-0.00007"))
    assert scalar(engine, "SELECT sum(cost_pusd) FROM daily_rollup") == 200_000_000
    assert_rollups_match_rows(engine)


def test_delete_upload_takes_its_rows_and_rollups(engine: Engine, tmp_path: Path) -> None:
    keep = ingest_file(
        engine, write_jsonl(tmp_path / "a.jsonl", [flat("d1")]), book=BOOK, actor=ADMIN
    )
    drop = ingest_file(
        engine,
        write_jsonl(tmp_path / "b.jsonl", [flat("d2"), flat("d3", model="gpt-4o")]),
        book=BOOK,
        actor=ADMIN,
    )
    assert delete_upload(engine, drop.upload_id, actor=ADMIN) == 2
    assert delete_upload(engine, 999, actor=ADMIN) is None
    assert scalar(engine, "SELECT count(*) FROM request_log") == 1
    assert scalar(engine, "SELECT sum(cost_pusd) FROM daily_rollup") == keep.cost_pusd
    assert list(list_uploads(engine)["id"]) == [keep.upload_id]
    assert_rollups_match_rows(engine)


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (b"", None, "empty"),
        (b"\x00\x01\x02binary\xff\xfe", None, "binary"),
        (b"timestamp,request_id,model\n2025-06-01T00:00:00Z,a,gpt-4o\n", "flat", "looks like CSV"),
        (b"hello world\nthis is text\n", None, "not JSON or CSV"),
    ],
)
def test_whole_file_problems_get_one_message(
    engine: Engine, tmp_path: Path, content: bytes, fmt: str | None, message: str
) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    report = ingest_file(engine, path, fmt=fmt, book=BOOK, actor=ADMIN)
    assert message in report.file_error and report.errors == [] and report.accepted == 0


def test_many_unreadable_lines_are_one_file_problem(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"{not json}\n" * 30)
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert "not valid JSON" in report.file_error and report.rejected == 0
    assert list_uploads(engine).empty


def test_a_line_over_one_mib_is_rejected(engine: Engine, tmp_path: Path) -> None:
    huge = flat("big", feature="x" * (1024 * 1024 + 10))
    path = write_jsonl(tmp_path / "f.jsonl", [flat("ok1"), huge, flat("ok2")])
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (report.accepted, report.rejected) == (2, 1)
    assert (report.errors[0].line, report.errors[0].field) == (2, "line")


def test_content_is_never_stored_and_secrets_are_redacted(engine: Engine, tmp_path: Path) -> None:
    record = flat(
        "s1",
        user="sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
        messages=[{"role": "user", "content": "my card is 4111"}],
        headers={"authorization": "Bearer abcdefghijklmnopqrstuvwxyz"},
    )
    report = ingest_file(
        engine, write_jsonl(tmp_path / "f.jsonl", [record]), book=BOOK, actor=ADMIN
    )
    assert report.scrubbed == {"messages": 1, "secret:user": 1, "secret:headers.authorization": 1}
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM request_log")).mappings().one()
    assert stored["user"] == "[redacted]"
    dumped = str(dict(stored))
    assert "4111" not in dumped and "sk-proj" not in dumped and "Bearer" not in dumped


def test_batch_file_is_priced_at_batch_rates(engine: Engine, tmp_path: Path) -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1748772000,
            "model": "gpt-4o-mini-2024-07-18", "choices": [],
            "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163}}  # fmt: skip
    lines = [
        {"id": "batch_req_1", "custom_id": "request-1", "error": None,
         "response": {"status_code": 200, "request_id": "96ff", "body": body}},
        {"id": "batch_req_2", "custom_id": "request-2", "response": None,
         "error": {"code": "batch_expired", "message": "expired"}},
    ]  # fmt: skip
    report = ingest_file(engine, write_jsonl(tmp_path / "out.jsonl", lines), book=BOOK, actor=ADMIN)
    assert (report.format, report.accepted, report.rejected) == ("batch", 2, 0)
    # batch rates of gpt-4o-mini: 1117 x 0.075 + 46 x 0.30 per 1M = 0.000083775 + 0.0000138
    assert report.cost_usd == Decimal("0.000097575")
    assert scalar(engine, "SELECT count(*) FROM request_log WHERE status >= 400") == 1


def test_anthropic_file_and_json_array(engine: Engine, tmp_path: Path) -> None:
    message = {"id": "msg_1", "type": "message", "model": "claude-sonnet-4-20250514",
               "stop_reason": "end_turn", "content": [{"type": "text", "text": "hi"}],
               "usage": {"input_tokens": 100, "cache_creation_input_tokens": 2000,
                         "cache_read_input_tokens": 3000, "output_tokens": 50}}  # fmt: skip
    wrapped = {"timestamp": "2025-06-01T00:00:00Z", "latency_ms": 900, "response": message}
    path = tmp_path / "claude.json"
    path.write_bytes(orjson.dumps([wrapped], option=orjson.OPT_INDENT_2))
    report = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (report.format, report.accepted) == ("anthropic", 1)
    # 100 x 3 + 3000 x 0.30 + 2000 x 3.75 + 50 x 15 per 1M
    # = 0.0003 + 0.0009 + 0.0075 + 0.00075 = 0.00945
    assert report.cost_usd == Decimal("0.00945")


def test_csv_with_a_column_mapping(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "when,id,llm,prompt,completion\r\n"
        "2025-06-01T00:00:00Z,c1,gpt-4o-mini,1000,200\r\n"
        "2025-06-01T00:00:00Z,c2,gpt-4o-mini,oops,200\r\n"
    )
    mapping = {"timestamp": "when", "request_id": "id", "model": "llm",
               "input_tokens": "prompt", "output_tokens": "completion"}  # fmt: skip
    unmapped = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert "map the CSV columns" in unmapped.file_error
    report = ingest_file(engine, path, mapping=mapping, book=BOOK, actor=ADMIN)
    assert (report.accepted, report.rejected, report.errors[0].line) == (1, 1, 3)
    assert report.errors[0].field == "input_tokens (column prompt)"
    save_mapping(engine, ["when", "id", "llm", "prompt", "completion"], mapping, actor=ADMIN)
    assert load_mapping(engine, ["id", "when", "llm", "prompt", "completion"]) == mapping


def test_usage_and_costs_pages_are_stored_idempotently(engine: Engine, tmp_path: Path) -> None:
    usage = {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": 1730419200, "end_time": 1730505600, "results": [
            {"object": "organization.usage.completions.result", "input_tokens": 1000,
             "input_cached_tokens": 400, "output_tokens": 50, "num_model_requests": 3,
             "model": "gpt-4o-mini-2024-07-18", "project_id": None}]}]}  # fmt: skip
    costs = {"object": "page", "data": [
        {"object": "bucket", "start_time": 1730419200, "end_time": 1730505600, "results": [
            {"object": "organization.costs.result",
             "amount": {"value": "0.003835980000000000000000000000", "currency": "usd"},
             "line_item": "gpt-5-nano, input_tokens", "project_id": "proj_1"}]}]}  # fmt: skip
    path = tmp_path / "usage.json"
    path.write_bytes(orjson.dumps(usage, option=orjson.OPT_INDENT_2))
    first = ingest_file(engine, path, actor=ADMIN)
    again = ingest_file(engine, path, actor=ADMIN)
    assert (first.format, first.accepted, again.accepted, again.duplicates) == (
        "usage_api",
        1,
        0,
        1,
    )
    assert store_costs_page(engine, costs) == (1, 0)
    assert store_costs_page(engine, costs) == (0, 1)
    assert store_usage_page(engine, usage) == (0, 1)
    assert scalar(engine, "SELECT amount_pusd FROM billed_cost") == 3_835_980_000


def test_rows_fingerprinted_by_an_earlier_version_stay_duplicates(
    engine: Engine, tmp_path: Path
) -> None:
    from db.migrations import STEPS

    path = write_jsonl(tmp_path / "a.jsonl", [flat("f1"), flat("f2", latency_ms=None)])
    assert ingest_file(engine, path, book=BOOK, actor=ADMIN).accepted == 2
    with engine.begin() as conn:  # as an earlier version left them
        conn.execute(text("UPDATE request_log SET content_hash = 'a1b2c3d4e5f60718'"))
        dict(STEPS)["0008_fast_fingerprints"](conn)
    again = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (again.accepted, again.duplicates, again.conflicts) == (0, 2, 0)
    changed = write_jsonl(tmp_path / "b.jsonl", [flat("f1", output_tokens=201)])
    assert ingest_file(engine, changed, book=BOOK, actor=ADMIN).conflicts == 1


def test_fingerprints_are_the_same_in_a_fresh_interpreter(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, '.'); import io, orjson;"
        "from core.fingerprint import content_hashes, hex_hashes; from core.logs import LogFile;"
        "r = {'timestamp': '2025-06-01T00:00:00Z', 'request_id': 'r1', 'model': 'gpt-4o',"
        " 'input_tokens': 10, 'output_tokens': 5, 'project': 'p'};"
        "data = orjson.dumps(r) + b'\\n' + orjson.dumps({**r, 'user': 'u'});"
        "(block,) = LogFile(io.BytesIO(data)).blocks();"
        "print(hex_hashes(content_hashes(block.events)))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1  # no per-process salt in what is stored
    first, second = orjson.loads(runs.pop().replace("'", '"'))
    assert first != second and len(first) == 16


def _mixed_log(path: Path) -> Path:
    """Good rows over several chunks, bad lines, content, secrets, a duplicate and a conflict."""
    records = [flat(f"m{i:02d}", output_tokens=10 + i, latency_ms=100 * i) for i in range(23)]
    records[3] = {**records[3], "messages": [{"role": "user", "content": "hi"}]}
    records[5] = {**records[5], "user": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"}
    records += [flat("m01", output_tokens=11, latency_ms=100), flat("m02", output_tokens=99)]
    records += [flat("bad", input_tokens=-1), flat("late", model="gpt-4o", batch=True)]
    body = b"\n".join(orjson.dumps(r) for r in records)
    path.write_bytes(body + b"\n{not json\n\n" + orjson.dumps(flat("last")) + b"\n")
    return path


def _stored(engine: Engine, source: str) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT request_id, model, user, input_tokens, output_tokens, latency_ms,"
                    " cost_pusd, content_hash, latency_bucket, output_bucket, batch"
                    " FROM request_log WHERE source = :s ORDER BY request_id"
                ),
                {"s": source},
            )
        ]


def test_parsing_in_a_second_process_gives_the_same_result(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 7)
    path = _mixed_log(tmp_path / "mixed.jsonl")
    serial = ingest_file(engine, path, book=BOOK, source="serial", actor=ADMIN)
    forked = {"runs": 0}
    real = files_mod.worker_pieces

    def counted(*args, **kwargs):
        forked["runs"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(files_mod, "worker_pieces", counted)
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_BYTES", 0)
    seen: list[tuple[int, int | None]] = []
    parallel = ingest_file(
        engine,
        path,
        book=BOOK,
        source="parallel",
        progress=lambda n, t: seen.append((n, t)),
        actor=ADMIN,
    )
    assert forked["runs"] == 1
    expected = serial.as_json()
    assert (expected["accepted"], expected["duplicates"], expected["conflicts"]) == (25, 1, 1)
    assert [(e["line"], e["field"]) for e in expected["errors"]] == [
        (26, "input_tokens"), (28, "line"),
    ]  # fmt: skip
    assert parallel.as_json() == expected
    assert parallel.scrubbed == serial.scrubbed == {"messages": 1, "secret:user": 1}
    assert _stored(engine, "parallel") == _stored(engine, "serial")
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert_rollups_match_rows(engine)
    again = ingest_file(engine, path, book=BOOK, source="parallel", actor=ADMIN)
    assert (again.accepted, again.duplicates, again.conflicts) == (0, 26, 1)


def test_a_failure_on_either_side_of_the_parsing_process_stops_both(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_BYTES", 0)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"{}\n" + b"this is not json\n" * 30)
    report = ingest_file(engine, garbage, book=BOOK, fmt="flat", actor=ADMIN)
    assert report.file_error is None and report.rejected == 31  # a JSON line: not whole-file
    garbage.write_bytes(b"this is not json\n" * 30)
    report = ingest_file(engine, garbage, book=BOOK, fmt="flat", actor=ADMIN)
    assert "not JSON" in (report.file_error or "")

    monkeypatch.setattr(parse_mod, "CHUNK_ROWS", 3)
    monkeypatch.setattr(writer_mod, "TRANSACTION_CHUNKS", 2)
    path = write_jsonl(tmp_path / "big.jsonl", [flat(f"c{i}", output_tokens=i) for i in range(10)])
    real = writer_mod.add_sums
    monkeypatch.setattr(writer_mod, "add_sums", crash_on_second_chunk(real))
    with pytest.raises(RuntimeError, match="power cut"):
        ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert not multiprocessing.active_children()  # the parsing process did not outlive it
    assert scalar(engine, "SELECT count(*) FROM request_log WHERE source = 'flat'") == 6
    monkeypatch.setattr(writer_mod, "add_sums", real)
    rerun = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (rerun.accepted, rerun.duplicates) == (4, 6)
    assert_rollups_match_rows(engine)


def test_a_threaded_caller_parses_in_a_worker_too(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's server is threaded: its uploads parse in a forkserver worker."""
    path = _mixed_log(tmp_path / "mixed.jsonl")
    serial = ingest_file(engine, path, book=BOOK, source="serial", actor=ADMIN)
    monkeypatch.setattr(parallel_mod, "PARALLEL_MIN_BYTES", 0)
    methods: list[str] = []
    real = parallel_mod._context

    def context():
        chosen = real()
        methods.append(chosen.get_start_method())
        return chosen

    monkeypatch.setattr(parallel_mod, "_context", context)
    result: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            report=ingest_file(engine, path, book=BOOK, source="threaded", actor=ADMIN)
        )
    )
    thread.start()
    thread.join()
    assert methods == ["forkserver"]
    assert result["report"].as_json() == serial.as_json()
    assert _stored(engine, "threaded") == _stored(engine, "serial")


def test_keys_sharing_a_hash_are_told_apart(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key hashes alike here: the second key takes the alternate slot, a third one that
    finds both slots taken is rejected with its reason, and nothing is mistaken for another."""
    import numpy as np

    import core.prepare as prepare_mod

    monkeypatch.setattr(
        prepare_mod, "key_hashes", lambda source, ids: np.full(len(ids), 42, dtype=np.int64)
    )
    records = [flat("a"), flat("b", output_tokens=9), flat("b", output_tokens=9), flat("c")]
    path = write_jsonl(tmp_path / "shared.jsonl", records)
    first = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (first.accepted, first.duplicates, first.rejected) == (2, 1, 1)
    assert [(e.line, e.field) for e in first.errors] == [(4, "request_id")]
    assert "another request_id" in first.errors[0].reason
    stored = dict(
        (r, o) for r, o in _rows(engine, "SELECT request_id, output_tokens FROM request_log")
    )
    assert stored == {"a": 200, "b": 9}
    again = ingest_file(engine, path, book=BOOK, actor=ADMIN)
    assert (again.accepted, again.duplicates, again.conflicts, again.rejected) == (0, 3, 0, 1)
    changed = write_jsonl(tmp_path / "changed.jsonl", [flat("b", output_tokens=10)])
    assert ingest_file(engine, changed, book=BOOK, actor=ADMIN).conflict_ids == ["b"]
    assert_rollups_match_rows(engine)


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]
