"""Schema migrations as a plain ordered list of named steps, applied once each.

A step may create tables (from their SQLModel definitions) or alter existing ones. Steps are
never edited once released; a later change to a table is a new step appended to `STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

import db.budgets
import db.models
import db.scenarios  # noqa: F401
from db.imports import openai_imports
from db.ingest import drop_index, ingest_details, refingerprint

Step = Callable[[Connection], None]


def create_tables(*names: str) -> Step:
    """A step that creates the named tables (and their indexes) if missing."""

    def step(conn: Connection) -> None:
        tables = [SQLModel.metadata.tables[n] for n in names]
        SQLModel.metadata.create_all(conn, tables=tables, checkfirst=True)

    return step


def add_column(table: str, column: str, ddl: str) -> Step:
    """A step that adds `column` (SQL type and default in `ddl`) when it is missing."""

    def step(conn: Connection) -> None:
        existing = {c["name"] for c in inspect(conn).get_columns(table)}
        if column not in existing:
            conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{column}" {ddl}'))

    return step


def create_index(table: str, *columns: str) -> Step:
    """A step that creates index `ix_<table>_usage` if missing (same DDL on both backends)."""

    def step(conn: Connection) -> None:
        cols = ", ".join(f'"{c}"' for c in columns)
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table}_usage ON {table} ({cols})"))

    return step


USAGE_LATENCY_INDEX = ("day", "model", "bucket", "count", "project", "status")
USAGE_OUTPUT_INDEX = ("model", "bucket", "count", "day", "project", "status")


def narrow_histograms(conn: Connection) -> None:
    """Move the histogram counts to tables keyed by (day, model, project, status, bucket)."""
    create_tables("latency_histogram", "output_histogram", "latency_daily")(conn)
    key = "day, model, bucket, project, status"
    existing = set(inspect(conn).get_table_names())
    for old, new in (
        ("latency_bucket", "latency_histogram"),
        ("output_bucket", "output_histogram"),
    ):
        if old not in existing:
            continue
        conn.execute(
            text(
                f"INSERT INTO {new} ({key}, count) "
                f"SELECT {key}, SUM(count) FROM {old} GROUP BY {key}"
            )
        )
        conn.execute(text(f"DROP TABLE {old}"))
    conn.execute(
        text(
            "INSERT INTO latency_daily (day, model, bucket, count) "
            "SELECT day, model, bucket, SUM(count) FROM latency_histogram "
            "GROUP BY day, model, bucket"
        )
    )


STEPS: list[tuple[str, Step]] = [
    ("0001_foundation", create_tables("upload", "request_log", "price_override")),
    ("0002_rollups", create_tables("daily_rollup", "latency_bucket", "output_bucket")),
    ("0004_ingest_details", ingest_details()),
    ("0004_openai_imports", openai_imports()),
    ("0003_scenarios", create_tables("scenario")),
    ("0005_budgets_alerts", create_tables("budget", "alert_rule", "alert_event")),
    # Covering indexes for the Usage page's histogram percentiles (scan the index, no sort).
    ("0006_usage_latency_index", create_index("latency_bucket", *USAGE_LATENCY_INDEX)),
    ("0006_usage_output_index", create_index("output_bucket", *USAGE_OUTPUT_INDEX)),
    # Histograms without feature/provider/batch (the Usage page never filters on them): fewer
    # rows to upsert per ingested chunk and to scan per page view; plus a (day, model) latency
    # histogram for the page's default, unfiltered view.
    ("0007_narrow_histograms", narrow_histograms),
    # Ingest speed: a faster content fingerprint (stored rows re-fingerprinted), and no
    # (day, model) index on request_log: every inserted row paid for it, while the queries
    # that read request_log by time use the ts index and the Usage page reads the rollups.
    ("0008_fast_fingerprints", refingerprint),
    ("0008_drop_request_day_model_index", drop_index("ix_request_log_day_model")),
]


def _ensure_ledger(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            "name VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
        )
    )


def migrate(engine: Engine) -> list[str]:
    """Apply every step not yet recorded; returns the names applied now."""
    applied_now = []
    with engine.begin() as conn:
        _ensure_ledger(conn)
    for name, step in STEPS:
        with engine.begin() as conn:
            if conn.execute(
                text("SELECT 1 FROM schema_migration WHERE name = :n"), {"n": name}
            ).first():
                continue
            step(conn)
            conn.execute(
                text("INSERT INTO schema_migration (name, applied_at) VALUES (:n, :t)"),
                {"n": name, "t": datetime.now(UTC).isoformat()},
            )
            applied_now.append(name)
    return applied_now
