"""Schema migrations: an ordered list of frozen steps, each applied once and recorded.

Each step is a module `mNNNN_<what>.py` with `NAME` and `apply(conn)`. It spells out its own
SQL for SQLite and PostgreSQL and imports neither the table models nor feature code, so it
creates today exactly what it created when it was released. Released steps are never edited
or reordered (databases record their names); a change is a new step appended to `STEPS`.
See docs/migrations.md.

`migrate` is safe to run from several processes at once: on PostgreSQL it holds an advisory
lock for the whole run; on SQLite each step takes the write lock (`BEGIN IMMEDIATE`, which
waits out the busy timeout) before it reads the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from db.migrations import (
    m0001_foundation,
    m0002_rollups,
    m0003_scenarios,
    m0004_ingest_details,
    m0004_openai_imports,
    m0005_budgets_alerts,
    m0006_usage_latency_index,
    m0006_usage_output_index,
    m0007_narrow_histograms,
    m0008_drop_request_day_model_index,
    m0008_fast_fingerprints,
    m0009_upload_updated_at_timestamptz,
    m0010_model_identity,
    m0011_request_key,
    m0012_ingest_keys,
    m0013_import_provider,
    m0014_routing_rollup,
    m0015_upload_span,
    m0016_model_shortlist,
    m0017_audit_trail,
    m0018_fx_rates_digests,
    m0019_dimensions,
    m0021_budget_currency,
    m0022_usage_daily,
    m0023_small_rollups,
    m0024_latency_by_project,
    m0025_routing_by_model,
    m0026_feature_by_model,
    m0027_routing_by_week,
    m0028_traffic_hourly,
    m0029_routing_by_project,
)


class Step(NamedTuple):
    """One migration step: the name the ledger records and what it does."""

    name: str
    apply: Callable[[Connection], None]


STEPS: list[Step] = [
    Step(module.NAME, module.apply)
    for module in (
        m0001_foundation,
        m0002_rollups,
        m0004_ingest_details,
        m0004_openai_imports,
        m0003_scenarios,
        m0005_budgets_alerts,
        m0006_usage_latency_index,
        m0006_usage_output_index,
        m0007_narrow_histograms,
        m0008_fast_fingerprints,
        m0008_drop_request_day_model_index,
        m0009_upload_updated_at_timestamptz,
        m0010_model_identity,
        m0011_request_key,
        m0012_ingest_keys,
        m0013_import_provider,
        m0014_routing_rollup,
        m0015_upload_span,
        m0016_model_shortlist,
        m0017_audit_trail,
        m0018_fx_rates_digests,
        m0019_dimensions,
        m0021_budget_currency,
        m0022_usage_daily,
        m0023_small_rollups,
        m0024_latency_by_project,
        m0025_routing_by_model,
        m0026_feature_by_model,
        m0027_routing_by_week,
        m0028_traffic_hourly,
        m0029_routing_by_project,
    )
]

DIALECTS = ("sqlite", "postgresql")
LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migration ("
    "name VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
)
# Any fixed key works as long as every Costdesk version uses the same one: "costdesk" in ASCII.
LOCK_KEY = 0x636F73746465736B


def migrate(engine: Engine) -> list[str]:
    """Apply every step not yet recorded, each in its own transaction; the names applied now."""
    if engine.dialect.name not in DIALECTS:
        raise ValueError(
            f"Costdesk stores its data in SQLite or PostgreSQL, not {engine.dialect.name}"
        )
    with _serialised(engine) as conn:
        with _transaction(conn):
            conn.exec_driver_sql(LEDGER)
        return [step.name for step in STEPS if _apply_once(conn, step)]


def _apply_once(conn: Connection, step: Step) -> bool:
    """Apply and record `step` unless the ledger, read under the lock, already has it."""
    with _transaction(conn):
        recorded = conn.execute(
            text("SELECT 1 FROM schema_migration WHERE name = :name"), {"name": step.name}
        ).first()
        if recorded:
            return False
        step.apply(conn)
        conn.execute(
            text("INSERT INTO schema_migration (name, applied_at) VALUES (:name, :at)"),
            {"name": step.name, "at": datetime.now(UTC).isoformat()},
        )
    return True


@contextmanager
def _serialised(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole run, holding PostgreSQL's migration lock."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            with _advisory_lock(conn):
                yield conn
        else:
            # The driver must not open transactions by itself: `_transaction` issues its own
            # BEGIN IMMEDIATE, so DDL runs inside it and the write lock is taken first.
            conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn


@contextmanager
def _advisory_lock(conn: Connection) -> Iterator[None]:
    """Hold the session-level advisory lock; a second migrator waits here."""
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
    conn.commit()
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            conn.commit()
        except DBAPIError:
            conn.invalidate()  # the server session ends, and its locks with it


@contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """A transaction that holds the database's write lock on SQLite from its first statement."""
    if conn.dialect.name != "sqlite":
        with conn.begin():
            yield
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("ROLLBACK")
        raise
    conn.exec_driver_sql("COMMIT")
