"""Schema migrations as a plain ordered list of named steps, applied once each.

A step may create tables (from their SQLModel definitions) or alter existing ones. Steps are
never edited once released; a later change to a table is a new step appended to `STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

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


STEPS: list[tuple[str, Step]] = [
    ("0001_foundation", create_tables("upload", "request_log", "price_override")),
    ("0002_rollups", create_tables("daily_rollup", "latency_bucket", "output_bucket")),
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
