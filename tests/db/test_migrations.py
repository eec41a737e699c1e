"""Migrations: frozen history, the table models' schema, upgrades of old databases and one
migrator at a time, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import (
    Engine,
    ForeignKeyConstraint,
    Table,
    UniqueConstraint,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Numeric, TypeDecorator, TypeEngine
from sqlmodel import SQLModel

import db.audit
import db.budgets
import db.digests
import db.fx
import db.imports
import db.migrations as migrations
import db.models
import db.scenarios
from core.fingerprint import HASHED_FIELDS, TEXT_FIELDS, content_hashes, hex_hashes
from db import queries
from db.migrations import LOCK_KEY, STEPS, migrate

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "costdesk-0008.sql"
# what SQLModel.metadata holds
TABLE_MODULES = (db.models, db.budgets, db.scenarios, db.imports, db.fx, db.digests, db.audit)

# History: existing databases record these names, so they stay, in this order, for good.
RELEASED = [
    "0001_foundation",
    "0002_rollups",
    "0004_ingest_details",
    "0004_openai_imports",
    "0003_scenarios",
    "0005_budgets_alerts",
    "0006_usage_latency_index",
    "0006_usage_output_index",
    "0007_narrow_histograms",
    "0008_fast_fingerprints",
    "0008_drop_request_day_model_index",
]
NAMES = [step.name for step in STEPS]
NEW_SINCE_FIXTURE = NAMES[len(RELEASED) :]


# ---------------------------------------------------------------------------------- history


def test_released_steps_lead_in_order_and_later_ones_count_up_from_0009() -> None:
    assert len(NAMES) == len(set(NAMES))
    assert NAMES[: len(RELEASED)] == RELEASED
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+", name) for name in NAMES)
    numbers = [int(name[:4]) for name in NEW_SINCE_FIXTURE]
    assert numbers == sorted(set(numbers))
    assert all(number >= 9 for number in numbers)


def test_each_step_is_a_module_named_after_it() -> None:
    assert [step.apply.__module__ for step in STEPS] == [f"db.migrations.m{n}" for n in NAMES]


def test_steps_import_no_table_models_or_feature_code() -> None:
    script = (
        "import sys, db.migrations;"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('db', 'ui', 'views', 'commands', 'integrations', 'cli', 'app'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in loaded if m != "db" and not m.startswith("db.migrations")] == []


# ---------------------------------------------------------------------------------- schema


def _type_key(type_: TypeEngine, dialect: Dialect) -> str:
    """What must agree: PostgreSQL's SQL type; on SQLite, which only keeps a declared type's
    affinity, the Python type the column holds (and a decimal's precision and scale)."""
    if isinstance(type_, TypeDecorator):  # SQLModel's AutoString: what it stands for here
        type_ = type_.load_dialect_impl(dialect)
    if dialect.name != "sqlite":
        return str(type_.compile(dialect=dialect))
    if isinstance(type_, Numeric) and type_.asdecimal:
        return f"Decimal({type_.precision}, {type_.scale})"
    return type_.python_type.__name__


def _model_shape(table: Table, dialect: Dialect) -> dict[str, Any]:
    """A table model's columns, keys, indexes and foreign keys, in comparable form."""
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    fks = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    return {
        "columns": {c.name: (_type_key(c.type, dialect), c.nullable) for c in table.columns},
        "primary_key": [c.name for c in table.primary_key.columns],
        "unique": {tuple(c.name for c in u.columns): u.name for u in uniques},
        "indexes": {i.name: (tuple(c.name for c in i.columns), i.unique) for i in table.indexes},
        "foreign_keys": sorted(
            (tuple(fk.column_keys), fk.referred_table.name, fk.ondelete) for fk in fks
        ),
        "without_rowid": dialect.name == "sqlite"
        and not table.dialect_options["sqlite"].get("with_rowid", True),
    }


def _database_shape(engine: Engine, name: str) -> dict[str, Any]:
    """The same shape as `_model_shape`, read from the database by SQLAlchemy's inspector."""
    insp, dialect = inspect(engine), engine.dialect
    indexes = [i for i in insp.get_indexes(name) if not i.get("duplicates_constraint")]
    fks = insp.get_foreign_keys(name)
    with engine.connect() as conn:
        sql = (
            conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}
            ).scalar_one()
            if dialect.name == "sqlite"
            else ""
        )
    return {
        "columns": {
            c["name"]: (_type_key(c["type"], dialect), c["nullable"])
            for c in insp.get_columns(name)
        },
        "primary_key": insp.get_pk_constraint(name)["constrained_columns"],
        "unique": {tuple(u["column_names"]): u["name"] for u in insp.get_unique_constraints(name)},
        "indexes": {i["name"]: (tuple(i["column_names"]), bool(i["unique"])) for i in indexes},
        "foreign_keys": sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
            for fk in fks
        ),
        "without_rowid": "WITHOUT ROWID" in sql.upper(),
    }


def _differences(table: str, database: dict[str, Any], models: dict[str, Any]) -> list[str]:
    """Where a table in the database differs from its model: one line per item."""
    lines = []
    for aspect, expected in models.items():
        actual = database[aspect]
        if isinstance(expected, dict):
            for key in sorted(set(actual) | set(expected), key=str):
                if actual.get(key) != expected.get(key):
                    lines.append(
                        f"{table} {aspect} {key}: {actual.get(key)} != {expected.get(key)}"
                    )
        elif actual != expected:
            lines.append(f"{table} {aspect}: {actual} != {expected}")
    return lines


def assert_schema_matches_models(engine: Engine) -> None:
    """Every table model exists with its columns, nullability, keys and indexes, nothing more."""
    tables = SQLModel.metadata.tables
    assert set(inspect(engine).get_table_names()) - {"schema_migration"} == set(tables)
    problems = []
    for name, table in sorted(tables.items()):
        expected = _model_shape(table, engine.dialect)
        actual = _database_shape(engine, name)
        for columns, constraint in expected["unique"].items():
            if constraint is None and columns in actual["unique"]:  # the database names it
                actual["unique"][columns] = None
        problems += _differences(name, actual, expected)
    assert not problems, "database != models:\n" + "\n".join(problems)


def test_a_new_database_has_the_schema_of_the_table_models(engine: Engine) -> None:
    assert_schema_matches_models(engine)
    with engine.connect() as conn:
        ledger = [r[0] for r in conn.execute(text("SELECT name FROM schema_migration"))]
    assert sorted(ledger) == sorted(NAMES)
    assert migrate(engine) == []


# ---------------------------------------------------------------------------------- upgrades


STORED = ("request_log", "daily_rollup", "upload", "budget", "scenario")  # besides the ledger


def _stored_rows(path: Path, columns: dict[str, list[str]]) -> dict[str, Counter]:
    """The rows of each table of a SQLite file, as the given columns."""
    with sqlite3.connect(path) as raw:
        rows = {
            table: Counter(raw.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall())
            for table, names in columns.items()
        }
    raw.close()
    return rows


def test_a_database_of_the_0008_release_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "costdesk-0008.db"
    raw = sqlite3.connect(path)
    raw.executescript(FIXTURE.read_text())
    columns = {  # what the fixture holds; surrogate ids aside, later steps may only add to it
        t: [f'"{c[1]}"' for c in raw.execute(f"PRAGMA table_info({t})") if c[1] != "id"]
        for t in STORED
    }
    raw.close()
    ledger_columns = {"schema_migration": ["name", "applied_at"]}
    before = _stored_rows(path, columns) | _stored_rows(path, ledger_columns)
    engine = create_engine(f"sqlite:///{path}")

    assert migrate(engine) == NEW_SINCE_FIXTURE
    assert migrate(engine) == []

    after = _stored_rows(path, columns) | _stored_rows(path, ledger_columns)
    ledger = after.pop("schema_migration")
    assert sorted(name for name, _ in ledger) == sorted(NAMES)
    assert set(before.pop("schema_migration")) <= set(ledger)  # released steps kept their time
    assert after == before
    assert [len(after[t]) for t in STORED] == [6, 6, 1, 1, 1]
    _assert_fixture_still_answers(engine)
    assert_schema_matches_models(engine)
    engine.dispose()


def _assert_fixture_still_answers(engine: Engine) -> None:
    """The fixture's traffic, budget and scenario, read through the product's own functions."""
    june = queries.UsageFilters(date(2025, 6, 1), date(2025, 6, 2))
    kpis = queries.kpis(engine, june, queries.latency_histogram(engine, june))
    assert (kpis.requests, kpis.errors, kpis.rate_limited, kpis.truncated) == (6, 1, 1, 1)
    assert (kpis.input_tokens, kpis.output_tokens) == (8548, 1440)
    assert kpis.cost_usd == Decimal("0.016054")
    assert kpis.p95_latency_ms is not None
    # the rollups a later step filled from older ones answer as the rows they were made from
    labelled = replace(june, key_labels=("",))  # no smaller rollup holds key labels
    assert queries.kpis(engine, labelled, None).requests == 6
    assert queries.daily_by_model(engine, june).equals(queries.daily_by_model(engine, labelled))
    failure, from_rows = (queries.cost_of_failure(engine, f) for f in (june, labelled))
    assert failure.by_day.values.tolist() == from_rows.by_day.values.tolist()
    assert (failure.failed_usd, failure.retries) == (from_rows.failed_usd, from_rows.retries)
    # the one failed call, a priced 429, had no successful call in its group to retry at
    assert (failure.failed_usd, failure.retries) == (Decimal("0.00125"), 0)
    stored, computed = (
        queries.latency_by_day(engine, june),
        queries.latency_percentiles(queries.latency_histogram(engine, june)),
    )
    assert len(stored) == 4 and stored.values.tolist() == computed.values.tolist()
    assert queries.output_histogram(engine, june).equals(
        queries.output_histogram(engine, replace(june, statuses=(200, 429, 500)))
    )
    budget = db.budgets.get_budget(engine, "Monthly")
    assert budget is not None
    assert (budget.amount_usd, budget.scope, budget.thresholds_pct) == (
        Decimal(500),
        "project:search",
        (50, 90, 100),
    )
    scenario = db.scenarios.load_scenario(engine, "Baseline plan")
    assert scenario is not None and scenario.params["requests_per_day"] == 1000


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OLD_REQUESTS = [
    {
        "ts": datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        "request_id": "a1",
        "model": "gpt-4o",
        "project": "search",
        "feature": "chat",
        "user": "u-1",
        "input_tokens": 1000,
        "cached_input_tokens": 100,
        "cache_write_tokens": 0,
        "output_tokens": 200,
        "reasoning_tokens": 0,
        "latency_ms": 800,
        "status": 200,
        "error_type": "",
        "finish_reason": "stop",
        "max_tokens": 512,
        "batch": False,
        "service_tier": "default",
    },
    {
        "ts": datetime(2025, 6, 1, 23, 59, 59, 123456, tzinfo=UTC),
        "request_id": "a2",
        "model": "gpt-4o-mini",
        "project": "support",
        "feature": "",
        "user": "",
        "input_tokens": 40,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "latency_ms": None,
        "status": 429,
        "error_type": "rate_limit",
        "finish_reason": "",
        "max_tokens": None,
        "batch": True,
        "service_tier": "",
    },
    {
        "ts": datetime(2025, 6, 2, 0, 0, 1, tzinfo=UTC),
        "request_id": "a3",
        "model": "o3",
        "project": "",
        "feature": "plan",
        "user": "ünïcode",
        "input_tokens": 3000,
        "cached_input_tokens": 0,
        "cache_write_tokens": 64,
        "output_tokens": 900,
        "reasoning_tokens": 600,
        "latency_ms": 12000,
        "status": 200,
        "error_type": "",
        "finish_reason": "length",
        "max_tokens": 900,
        "batch": False,
        "service_tier": "flex",
    },
]
INSERT_REQUEST = text(
    "INSERT INTO request_log (ts, day, source, request_id, provider, model, project, feature,"
    ' "user", input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,'
    " reasoning_tokens, latency_ms, status, error_type, finish_reason, max_tokens, batch,"
    " service_tier, priced, cost_pusd, price_version, content_hash) VALUES (:ts, :day, 'old',"
    " :request_id, 'openai', :model, :project, :feature, :user, :input_tokens,"
    " :cached_input_tokens, :cache_write_tokens, :output_tokens, :reasoning_tokens, :latency_ms,"
    " :status, :error_type, :finish_reason, :max_tokens, :batch, :service_tier, TRUE, 0, '',"
    " 'a1b2c3d4e5f60718')"
)
# (day, provider, model, project, feature, batch, status, bucket, count): the first two differ
# only in what the narrow tables leave out, so their counts add up.
WIDE_ROWS = [
    ("2025-06-01", "openai", "gpt-4o", "search", "chat", False, 200, 30, 7),
    ("2025-06-01", "azure", "gpt-4o", "search", "summarize", True, 200, 30, 5),
    ("2025-06-01", "openai", "gpt-4o", "support", "", False, 200, 30, 2),
    ("2025-06-01", "openai", "gpt-4o", "search", "chat", False, 200, 31, 1),
    ("2025-06-02", "openai", "gpt-4o-mini", "search", "chat", False, 429, 4, 3),
]
WIDE_COLUMNS = ("day", "provider", "model", "project", "feature", "batch", "status", "bucket")


def _driver_values(dialect: str, row: dict[str, Any]) -> dict[str, Any]:
    """Times as each driver takes them: SQLite the text SQLAlchemy writes, PostgreSQL objects."""
    ts = row["ts"]
    if dialect == "sqlite":
        return {**row, "ts": ts.strftime("%Y-%m-%d %H:%M:%S.%f"), "day": ts.date().isoformat()}
    return {**row, "day": ts.date()}


def _insert_old_rows(engine: Engine) -> None:
    """Rows as the 0006 schema held them, written with plain SQL."""
    dialect = engine.dialect.name
    wide = [dict(zip((*WIDE_COLUMNS, "count"), row, strict=True)) for row in WIDE_ROWS]
    if dialect != "sqlite":
        wide = [{**row, "day": date.fromisoformat(row["day"])} for row in wide]
    columns = ", ".join(WIDE_COLUMNS)
    values = ", ".join(f":{c}" for c in WIDE_COLUMNS)
    with engine.begin() as conn:
        conn.execute(INSERT_REQUEST, [_driver_values(dialect, r) for r in OLD_REQUESTS])
        for table, rows in (("latency_bucket", wide), ("output_bucket", wide[1:])):
            sql = f"INSERT INTO {table} ({columns}, count) VALUES ({values}, :count)"
            conn.execute(text(sql), rows)


def _summed(rows: list[tuple], key: tuple[int, ...]) -> dict[tuple, int]:
    """Counts (each row's last value) summed by the values at `key`."""
    sums: Counter = Counter()
    for row in rows:
        sums[tuple(str(row[i]) for i in key)] += row[-1]
    return dict(sums)


def _read(engine: Engine, sql: str) -> dict[tuple, int]:
    """A histogram table as {key values as text: count}."""
    with engine.connect() as conn:
        return {tuple(str(v) for v in row[:-1]): row[-1] for row in conn.execute(text(sql))}


def _expected_fingerprints() -> dict[str, str]:
    """What `core.fingerprint` gives for OLD_REQUESTS, by request id."""
    micros = [(r["ts"] - EPOCH) // timedelta(microseconds=1) for r in OLD_REQUESTS]
    cols: dict[str, np.ndarray] = {"ts": np.array(micros, dtype=np.int64)}
    for name in HASHED_FIELDS:
        values = [r[name] for r in OLD_REQUESTS]
        if name in TEXT_FIELDS:
            cols[name] = np.array(values, dtype=object)
        else:
            cols[name] = np.array([-1 if v is None else v for v in values], dtype=np.int64)
    hashes = hex_hashes(content_hashes(cols))
    return {r["request_id"]: h for r, h in zip(OLD_REQUESTS, hashes, strict=True)}


def _migrate_through(engine: Engine, last: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run `migrate` with the steps up to and including `last` only."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "STEPS", STEPS[: NAMES.index(last) + 1])
        return migrate(engine)


def test_a_0006_database_gets_narrow_histograms_and_new_fingerprints(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(db_url)
    through_0006 = NAMES.index("0006_usage_output_index") + 1
    assert (
        _migrate_through(engine, "0006_usage_output_index", monkeypatch) == RELEASED[:through_0006]
    )
    _insert_old_rows(engine)

    applied = _migrate_through(engine, "0008_drop_request_day_model_index", monkeypatch)

    assert applied == RELEASED[through_0006:]
    assert not {"latency_bucket", "output_bucket"} & set(inspect(engine).get_table_names())
    narrow = _summed(WIDE_ROWS, (0, 2, 7, 3, 6))  # day, model, bucket, project, status
    assert (
        _read(engine, "SELECT day, model, bucket, project, status, count FROM latency_histogram")
        == narrow
    )
    assert _read(engine, "SELECT day, model, bucket, count FROM latency_daily") == _summed(
        WIDE_ROWS, (0, 2, 7)
    )
    assert _read(
        engine, "SELECT day, model, bucket, project, status, count FROM output_histogram"
    ) == _summed(WIDE_ROWS[1:], (0, 2, 7, 3, 6))
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT request_id, content_hash FROM request_log")).all())
    assert stored == _expected_fingerprints()
    assert migrate(engine) == NEW_SINCE_FIXTURE  # and on to today's schema
    assert_schema_matches_models(engine)
    engine.dispose()


# ---------------------------------------------------------------------------------- one at a time

MIGRATOR = """
import json, sys, time
from pathlib import Path

import db.migrations

url, go = sys.argv[1], Path(sys.argv[2])
applied = []
migrate = db.migrations.migrate
db.migrations.migrate = lambda engine: applied.extend(migrate(engine)) or applied
from db.engine import make_engine

print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
make_engine(url)
print(json.dumps(applied), flush=True)
"""


def test_processes_migrating_a_new_database_at_once_apply_each_step_once(
    db_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, db_url, str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()  # every process has imported everything: they start migrating together
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    applied = Counter(name for out, _ in results for name in json.loads(out.splitlines()[-1]))
    assert applied == Counter(NAMES)
    engine = create_engine(db_url)
    assert migrate(engine) == []
    engine.dispose()


@contextmanager
def _lock_held(url: str) -> Iterator[None]:
    """Hold what a migrator holds: PostgreSQL's advisory lock, SQLite's write lock."""
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            raw.execute("COMMIT")
            raw.close()
        return
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            conn.commit()
    engine.dispose()


def test_migrate_waits_while_another_migrator_holds_the_lock(db_url: str) -> None:
    sqlite_wait = {"timeout": 60} if db_url.startswith("sqlite") else {}  # as make_engine's 30 s
    engine = create_engine(db_url, connect_args=sqlite_wait)
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(migrate(engine))
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)

    with _lock_held(db_url):
        waiting = threading.Thread(target=run)
        waiting.start()
        waiting.join(1.5)
        assert waiting.is_alive() and outcome == []
        assert "schema_migration" not in inspect(engine).get_table_names()
    waiting.join(60)
    assert outcome == [NAMES]
    engine.dispose()
