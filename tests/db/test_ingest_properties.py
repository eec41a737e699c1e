"""Ingest held to a line-by-line reference on generated logs, on SQLite and PostgreSQL.

The reference reads each line on its own with the scalar field rules (`core.logs.rules`) and
prices each record with the Decimal definition (`core.costs.price`); the ingest reads blocks
through the column forms, several chunks per transaction, with small chunks so that every
path meets every other. Both must agree on what was stored, what was rejected (line and
field), what was a duplicate or a conflict, and the exact cost; the rollups must equal a SQL
rebuild from the stored rows on every column.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

import core.logs.parse as parse_mod
import db.ingest.rollups as rollups_mod
import db.ingest.writer as writer_mod
from core.costs import MAX_TOKENS, CostBreakdown, Usage, price, usd_to_picos
from core.identity import identify
from core.logs import rules
from core.logs.rules import Refused
from core.pricing import PriceBook, PriceOverride, Rates
from core.rollups import TOP_USERS
from db.ingest import delete_upload, ingest_file, list_uploads, reprice
from db.ingest.rollups import ROLLUP_TABLES, USERS, rebuild
from db.retention import kept_since, prune
from tests.actors import ADMIN

BOOK = PriceBook.from_snapshot()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MODELS = ["gpt-4o", "gpt-4o-2024-08-06", "openai/gpt-4o-mini", "claude-3-5-haiku-latest",
          "gemini-2.0-flash", "my-finetune", "gpt-4o\t", "o3"]  # fmt: skip
RUN = itertools.count()
SIZES = (parse_mod.CHUNK_ROWS, writer_mod.TRANSACTION_CHUNKS, writer_mod.SUM_CHUNKS)
UPSERT_ROWS = rollups_mod.UPSERT_ROWS
USER_ROWS = writer_mod.USER_ROWS

# --- generated records ------------------------------------------------------------------------


def _stamp(moment: datetime, style: int) -> str:
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return [
        base + "Z",
        base.replace("T", "t") + "z",
        base + ".123456Z",
        (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00",
        (moment + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S") + "+0200",
        base,  # no zone: refused
        "2025-02-30T00:00:00Z",  # no such day: refused
    ][style]


BAD = {  # values the rules refuse, drawn now and then
    "count": [MAX_TOKENS + 1, 10_000_000_000_000, -1, 80.5, True, "12"],
    "latency_ms": [-3, 1e300, "fast"],
    "status": ["teapot", 99],
    "label": ["x" * 201, ["list"]],
    "batch": [2, "maybe"],
}


def _sometimes_bad(good: st.SearchStrategy, kind: str) -> st.SearchStrategy:
    return st.one_of(*[good] * 9, st.sampled_from(BAD[kind]))


COUNT = _sometimes_bad(
    st.one_of(st.integers(0, 5000), st.sampled_from([0, MAX_TOKENS, 3.0])), "count"
)
LABEL = _sometimes_bad(
    st.sampled_from(["search", "support", "", None, " pad ", "a\x00b", 7]), "label"
)


@st.composite
def records(draw: st.DrawFn, minutes: int = 28_800) -> dict:
    """One flat record: required keys usually present, optional keys on some records only."""
    moment = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, minutes))
    )  # across o3's price cut (by default)
    style = draw(st.sampled_from([0] * 6 + [1, 2, 3, 4, 5, 6]))
    record: dict = {
        "timestamp": _stamp(moment, style),
        "request_id": f"r{draw(st.integers(0, 12))}",  # a small pool: duplicates and conflicts
        "model": draw(st.sampled_from(MODELS)),
        "input_tokens": draw(st.integers(0, 5000)),
        "output_tokens": draw(st.integers(0, 2000)),
    }
    optional = {
        "cached_input_tokens": st.integers(0, 900),
        "reasoning_tokens": st.integers(0, 50),
        "latency_ms": _sometimes_bad(
            st.one_of(st.integers(0, 60_000), st.floats(0, 1e5)), "latency_ms"
        ),
        "status": _sometimes_bad(
            st.sampled_from([200, 399, 400, 429, 500, "success", "error"]), "status"
        ),
        "error_type": st.sampled_from(["", "rate_limit_exceeded", "server_error"]),
        "project": LABEL,
        "feature": LABEL,
        "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2),
        "user": LABEL,
        "finish_reason": st.sampled_from(["stop", "length", "MAX_TOKENS", "max_output_tokens"]),
        "max_tokens": st.one_of(st.integers(1, 4096), st.just(None)),
        "batch": _sometimes_bad(st.booleans(), "batch"),
        "service_tier": st.sampled_from(["default", "flex", "priority", ""]),
        "input_tokens": COUNT,
        "output_tokens": COUNT,
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 2)) == 0:
            record[key] = draw(strategy)
    if draw(st.integers(0, 30)) == 0:
        del record[draw(st.sampled_from(["timestamp", "model", "input_tokens"]))]
    if draw(st.integers(0, 5)) == 0:  # the same request sent again, maybe spelled otherwise
        record["again"] = draw(st.sampled_from([0, 1, 2, 3, 4]))
    return record


def _spell_again(batch: list[dict]) -> list[dict]:
    """Records marked `again` repeat an earlier record with another timestamp spelling."""
    out = []
    for record in batch:
        style = record.pop("again", None)
        if style is not None and out:
            earlier = dict(out[len(out) // 2])
            try:
                moment = datetime.fromisoformat(earlier["timestamp"].upper().replace(" ", "T"))
            except (KeyError, ValueError):
                moment = None
            if moment is not None and moment.tzinfo is not None:
                earlier["timestamp"] = _stamp(moment.astimezone(UTC), style)
            record = earlier
        out.append(record)
    return out


# --- the line-by-line reference ---------------------------------------------------------------


@dataclass
class Expected:
    stored: dict[str, dict] = field(default_factory=dict)  # request_id -> stored values
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, field)
    duplicates: int = 0
    conflicts: int = 0


def _normalise(record: dict) -> dict:
    """One record through the scalar rules in field order; Refused names the field."""
    out = {}

    def take(name: str, accept, *args, key: str | None = None) -> object:
        try:
            return accept(record.get(key or name), *args)
        except Refused as refused:
            raise Refused(key or name) from refused

    out["ts"] = take("timestamp", rules.accept_timestamp)
    out["request_id"] = take("request_id", rules.accept_required_label)
    out["model"] = take("model", rules.accept_required_label)
    for name in ("input_tokens", "output_tokens"):
        out[name] = take(name, rules.accept_count)
    cached = (
        "cached_input_tokens" if record.get("cached_input_tokens") is not None else "cached_tokens"
    )
    out["cached_input_tokens"] = take(cached, rules.accept_zero_count, key=cached)
    for name in ("cache_write_tokens", "reasoning_tokens"):
        out[name] = take(name, rules.accept_zero_count)
    out["latency_ms"] = take("latency_ms", rules.accept_latency)
    error_type = (
        rules.accept_label(record.get("error_type")) if _label_ok(record, "error_type") else ""
    )
    out["status"] = take("status", rules.accept_status, error_type)
    out["error_type"] = take("error_type", rules.accept_label)
    out["project"] = take("project", rules.accept_label)
    if record.get("feature") is None and record.get("tags") is not None:
        tags = record["tags"]
        joined = ",".join(tags) if isinstance(tags, list) else tags
        out["feature"] = take("tags", lambda _: rules.accept_label(joined), key="tags")
    else:
        out["feature"] = take("feature", rules.accept_label)
    out["user"] = take("user", rules.accept_label)
    out["finish_reason"] = take("finish_reason", rules.accept_finish)
    out["max_tokens"] = take("max_tokens", rules.accept_optional_count)
    out["batch"] = take("batch", rules.accept_flag)
    out["service_tier"] = take("service_tier", rules.accept_label)
    out["provider"] = take("provider", rules.accept_label)
    if out["cached_input_tokens"] + out["cache_write_tokens"] > out["input_tokens"]:
        raise Refused("cached_input_tokens")
    if out["reasoning_tokens"] > out["output_tokens"]:
        raise Refused("reasoning_tokens")
    return out


def _label_ok(record: dict, name: str) -> bool:
    try:
        rules.accept_label(record.get(name))
    except Refused:
        return False
    return True


def _content(event: dict) -> tuple:
    """What the fingerprint covers: everything but the key and the provider."""
    return tuple(v for k, v in sorted(event.items()) if k not in ("request_id", "provider"))


def reference(records: list[dict]) -> Expected:
    expected = Expected()
    seen: dict[str, tuple] = {}
    for line, record in enumerate(records, start=1):
        try:
            event = _normalise(record)
        except Refused as refused:
            expected.rejected.append((line, str(refused.args[0])))
            continue
        key = event["request_id"]
        if key in seen:
            if seen[key] == _content(event):
                expected.duplicates += 1
            else:
                expected.conflicts += 1
            continue
        seen[key] = _content(event)
        expected.stored[key] = event
    return expected


def reference_cost(event: dict) -> tuple[bool, int]:
    """(priced, pico-dollars) of one event by the Decimal definition."""
    usage = Usage(event["input_tokens"], event["output_tokens"], event["cached_input_tokens"],
                  event["cache_write_tokens"])  # fmt: skip
    when = EPOCH + timedelta(microseconds=event["ts"])
    found = price(usage, event["model"], BOOK, when, batch=event["batch"],
                  service_tier=event["service_tier"] or None)  # fmt: skip
    used = any((event["input_tokens"], event["output_tokens"]))
    if not isinstance(found, CostBreakdown):
        return not used, 0
    return True, usd_to_picos(found.total_usd)


# --- the property -----------------------------------------------------------------------------


def _stored(engine: Engine, source: str) -> dict[str, dict]:
    query = text(
        "SELECT request_id, model, model_id, input_tokens, output_tokens, cached_input_tokens, "
        'latency_ms, status, project, feature, "user", finish_reason, max_tokens, batch, '
        "cost_pusd, priced FROM request_log WHERE source = :s"
    )
    with engine.connect() as conn:
        return {r.request_id: r._asdict() for r in conn.execute(query, {"s": source})}


def _rollups(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return _rollups_on(conn)


def _rollups_on(conn: Connection) -> dict[str, list[tuple]]:
    """Every row of every rollup table and of the user rollup, all columns, comparable."""
    out = {}
    for name, table in {**ROLLUP_TABLES, USERS.name: USERS}.items():
        columns = [c.name for c in table.columns if c.name != "id"]
        rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM {name}")).all()
        out[name] = sorted(
            tuple(str(v) if not isinstance(v, (int, bool)) else int(v) for v in r) for r in rows
        )
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(records(), min_size=1, max_size=30))
def test_ingest_equals_the_line_by_line_reference(
    engine: Engine, tmp_path: Path, batch: list[dict]
) -> None:
    # every path meets every other: sums added within a transaction and at its commit
    parse_mod.CHUNK_ROWS, writer_mod.TRANSACTION_CHUNKS, writer_mod.SUM_CHUNKS = 4, 3, 2
    try:
        batch = _spell_again(batch)
        source = f"run{next(RUN)}"
        path = tmp_path / f"{source}.jsonl"
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in batch) + b"\n")
        report = ingest_file(engine, path, book=BOOK, source=source, actor=ADMIN)
    finally:
        parse_mod.CHUNK_ROWS, writer_mod.TRANSACTION_CHUNKS, writer_mod.SUM_CHUNKS = SIZES
    expected = reference(batch)
    assert [(e.line, e.field) for e in report.errors] == expected.rejected
    assert (report.accepted, report.duplicates, report.conflicts) == (
        len(expected.stored), expected.duplicates, expected.conflicts,
    )  # fmt: skip
    stored = _stored(engine, source)
    assert set(stored) == set(expected.stored)
    total = 0
    for key, event in expected.stored.items():
        row = stored[key]
        assert (row["model"], row["input_tokens"], row["output_tokens"], row["status"]) == (
            event["model"], event["input_tokens"], event["output_tokens"], event["status"],
        )  # fmt: skip
        assert (row["project"], row["feature"], row["user"], row["finish_reason"]) == (
            event["project"], event["feature"], event["user"], event["finish_reason"],
        )  # fmt: skip
        assert row["latency_ms"] == (None if event["latency_ms"] < 0 else event["latency_ms"])
        assert row["model_id"] == identify(BOOK, event["model"]).model
        priced, picos = reference_cost(event)
        assert (bool(row["priced"]), row["cost_pusd"]) == (priced, picos), key
        total += picos
    assert report.cost_pusd == total
    before = _rollups(engine)
    with engine.begin() as conn:
        rebuild(conn)
    assert _rollups(engine) == before  # every column of every rollup table


def test_the_reference_itself_catches_the_known_defects() -> None:
    lines = [
        {"timestamp": "2025-06-01t10:00:00Z", "request_id": "dup-1", "model": "gpt-4o",
         "input_tokens": 10, "output_tokens": 5},
        {"timestamp": "2025-06-01T10:00:00Z", "request_id": "dup-1", "model": "gpt-4o",
         "input_tokens": 99, "output_tokens": 5},
        {"timestamp": "2025-06-01T10:00:00Z", "request_id": "big", "model": "gpt-4o",
         "input_tokens": 10, "output_tokens": 10_000_000_000_000},
    ]  # fmt: skip
    expected = reference(lines)
    assert expected.stored["dup-1"]["input_tokens"] == 10 and expected.conflicts == 1
    assert expected.rejected == [(3, "output_tokens")]
    assert isinstance(BOOK.price_at("gpt-4o"), Rates)


# --- rollups after any sequence of ingests, deletes, re-prices and prunes ----------------------

CHEAPER = [
    PriceOverride(model="gpt-4o-mini", effective_from=date(2025, 6, 10), input_mtok=Decimal("0.1"),
                  output_mtok=Decimal("0.5")),
    PriceOverride(model="gpt-4o", effective_from=date(2025, 1, 1), input_mtok=Decimal("1"),
                  output_mtok=Decimal("3"), context_window=4000),
]  # fmt: skip


@st.composite
def dense_records(draw: st.DrawFn) -> dict:
    """A valid record sharing its rollup rows with many others: two days, two models, one
    token-size bucket (1,001-1,023 in, 1-49 out), so extremes and sums meet across ingests."""
    moment = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 47)))
    return {
        "timestamp": _stamp(moment, 0),
        "request_id": f"d{draw(st.integers(0, 40))}",
        "model": draw(st.sampled_from(["gpt-4o", "gpt-4o-mini"])),
        "input_tokens": draw(st.integers(1001, 1023)),
        "output_tokens": draw(st.integers(1, 49)),
    }


OPERATIONS = st.one_of(  # three days, so requests share rollup rows across ingests
    st.tuples(
        st.just("ingest"),
        st.lists(st.one_of(records(minutes=4_000), dense_records()), min_size=1, max_size=15),
    ),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("reprice"), st.sampled_from([[], CHEAPER[:1], CHEAPER])),
    st.tuples(st.just("prune"), st.integers(0, 3)),
)


def _pruned_part(tables: dict[str, list[tuple]], kept_from: date | None) -> dict[str, list]:
    """The rollup rows of pruned days (read in `_rollups` column order)."""
    if kept_from is None:
        return {}
    out = {}
    for name, rows in tables.items():
        at = [c.name for c in {**ROLLUP_TABLES, USERS.name: USERS}[name].columns if c.name != "id"]
        if "week" in at:  # a week's row is frozen once all its days are pruned
            at = at.index("week")
            last = (kept_from - timedelta(days=6)).isoformat()
            out[name] = [r for r in rows if str(r[at])[:10] < last]
            continue
        at = at.index("day")
        out[name] = [r for r in rows if str(r[at])[:10] < kept_from.isoformat()]
    return out


def _apply(engine: Engine, tmp_path: Path, step: tuple) -> None:
    kind, value = step
    if kind == "ingest":
        path = tmp_path / f"ops{next(RUN)}.jsonl"
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in _spell_again(value)) + b"\n")
        ingest_file(engine, path, book=BOOK, source=f"s{next(RUN) % 2}", actor=ADMIN)
    elif kind == "delete":
        uploads = list_uploads(engine)["id"].tolist()
        if uploads:
            delete_upload(engine, uploads[value % len(uploads)], actor=ADMIN)
    elif kind == "reprice":
        reprice(engine, PriceBook.from_snapshot(value), actor=ADMIN)
    else:
        prune(engine, date(2025, 6, 1) + timedelta(days=value), actor=ADMIN)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(OPERATIONS, min_size=1, max_size=6))
def test_rollups_equal_a_rebuild_after_any_operations(
    engine: Engine, tmp_path: Path, steps: list[tuple]
) -> None:
    """Every rollup table, the routing rollup too, equals a SQL rebuild from the stored rows on
    every column; the rollups of pruned days stay exactly as they were when pruned. The user
    rollup keeps each day's top 2 users here, so an ingest's own sums (a day all its own) and a
    day's rows (a day shared with earlier files) both have users to sum as "other". Sums are
    upserted 3 rows at a time, so a table's sums take several statements."""
    parse_mod.CHUNK_ROWS, writer_mod.TRANSACTION_CHUNKS, writer_mod.SUM_CHUNKS = 4, 3, 2
    rollups_mod.TOP_USERS, rollups_mod.UPSERT_ROWS = 2, 3
    frozen = _pruned_part(_rollups(engine), kept_since(engine))  # examples share the database
    try:
        for step in steps:
            _apply(engine, tmp_path, step)
            kept = kept_since(engine)
            tables = _rollups(engine)
            frozen = frozen if step[0] != "prune" else _pruned_part(tables, kept)
            assert _pruned_part(tables, kept) == frozen
            with engine.connect() as conn, conn.begin() as transaction:
                rebuild(conn)
                assert _rollups_on(conn) == tables
                transaction.rollback()
    finally:
        parse_mod.CHUNK_ROWS, writer_mod.TRANSACTION_CHUNKS, writer_mod.SUM_CHUNKS = SIZES
        rollups_mod.TOP_USERS, rollups_mod.UPSERT_ROWS = TOP_USERS, UPSERT_ROWS


USER_CALL = st.tuples(
    st.integers(0, 2 * 1440 - 1),  # minute of a two-day stretch
    st.integers(0, 30),  # request id: some repeat, in a file and across the two
    st.sampled_from(["ann", "bo", "cy", "di", "ed", ""]),
    st.sampled_from(["gpt-4o", "gpt-4o-mini", "in-house-llm"]),  # the last one unpriced
    st.integers(0, 3000),
    st.integers(0, 800),
)
EXAMPLES = itertools.count()


def _user_file(tmp_path: Path, base: datetime, prefix: str, calls: list[tuple]) -> Path:
    records = [
        {"timestamp": (base + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
         "request_id": f"{prefix}-{rid}", "user": user, "model": model,
         "input_tokens": tokens_in, "output_tokens": tokens_out}
        for minute, rid, user, model, tokens_in, tokens_out in calls
    ]  # fmt: skip
    path = tmp_path / f"users{next(RUN)}.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    return path


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(USER_CALL, min_size=1, max_size=30),
    second=st.lists(USER_CALL, max_size=15),
    held=st.sampled_from([USER_ROWS, 1]),
)
def test_top_users_from_a_files_own_sums_equal_a_rebuild(
    engine: Engine, tmp_path: Path, first: list[tuple], second: list[tuple], held: int
) -> None:
    """Two files over two fresh days, the top 2 users kept: the first file's days are all its
    own (their top users come from its sums, unless it has more days and users than the
    writer holds: then from the rows), the second's are shared (from the rows); both equal the
    rebuild from the stored rows, duplicates and conflicts left out."""
    example = next(EXAMPLES)
    base = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=3 * example)
    rollups_mod.TOP_USERS, writer_mod.USER_ROWS = 2, held
    try:
        for calls in (first, second):
            path = _user_file(tmp_path, base, f"e{example}", calls)
            ingest_file(engine, path, book=BOOK, source="users", actor=ADMIN)
        with engine.connect() as conn, conn.begin() as transaction:
            stored = _rollups_on(conn)["user_rollup"]
            rebuild(conn)
            assert _rollups_on(conn)["user_rollup"] == stored
            transaction.rollback()
    finally:
        rollups_mod.TOP_USERS, writer_mod.USER_ROWS = TOP_USERS, USER_ROWS


def test_a_files_own_day_keeps_its_top_users_and_sums_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    """gpt-4o input at $2.50 per 1M tokens: ann 3,000 tokens ($0.0075), bo 2,000 ($0.005),
    cy 1,000 ($0.0025) on a fresh day, top 2 kept; a second file's 4,000 more for cy (the day
    now shared) makes cy first with $0.0125 and bo the rest."""
    base = datetime(2023, 3, 1, 9, tzinfo=UTC)
    calls = [(0, 1, "ann", "gpt-4o", 3000, 0), (1, 2, "bo", "gpt-4o", 2000, 0),
             (2, 3, "cy", "gpt-4o", 1000, 0)]  # fmt: skip
    rollups_mod.TOP_USERS = 2
    try:
        ingest_file(engine, _user_file(tmp_path, base, "own", calls), book=BOOK, source="u",
                    actor=ADMIN)  # fmt: skip
        assert _users_of(engine, date(2023, 3, 1)) == [
            ("\x1fother", 1, 1000, 2_500_000_000),
            ("ann", 1, 3000, 7_500_000_000),
            ("bo", 1, 2000, 5_000_000_000),
        ]
        more = [(3, 4, "cy", "gpt-4o", 4000, 0)]
        ingest_file(engine, _user_file(tmp_path, base, "own", more), book=BOOK, source="u",
                    actor=ADMIN)  # fmt: skip
        assert _users_of(engine, date(2023, 3, 1)) == [
            ("\x1fother", 1, 2000, 5_000_000_000),
            ("ann", 1, 3000, 7_500_000_000),
            ("cy", 2, 5000, 12_500_000_000),
        ]
    finally:
        rollups_mod.TOP_USERS = TOP_USERS


def _users_of(engine: Engine, day: date) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                'SELECT "user", requests, input_tokens, cost_pusd FROM user_rollup '
                'WHERE day = :day ORDER BY "user"'
            ),
            {"day": day if engine.dialect.name != "sqlite" else day.isoformat()},
        )
        return [tuple(r) for r in rows]
