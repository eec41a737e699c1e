"""0024_latency_by_project: the per-project latency histogram is clustered by project first.

`latency_histogram` is read only when a project or status filter is set (otherwise the
per-day tables answer). Keyed (day, model_id, bucket, project, status), a project filter had
to read every row of the period; keyed (project, day, model_id, bucket, status) it reads that
project's rows only. SQLite clusters the table on its key (WITHOUT ROWID), so the table is
copied into the new order; PostgreSQL replaces the primary key index.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0024_latency_by_project"

KEY = "project, day, model_id, bucket, status"
SQLITE = (
    """CREATE TABLE latency_histogram_0024 (
        project VARCHAR NOT NULL,
        day DATE NOT NULL,
        model_id VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (project, day, model_id, bucket, status)
    ) WITHOUT ROWID""",
    "INSERT INTO latency_histogram_0024 (project, day, model_id, bucket, status, count) "
    "SELECT project, day, model_id, bucket, status, count FROM latency_histogram",
    "DROP TABLE latency_histogram",
    "ALTER TABLE latency_histogram_0024 RENAME TO latency_histogram",
)
POSTGRESQL = (
    "ALTER TABLE latency_histogram DROP CONSTRAINT latency_histogram_pkey",
    f"ALTER TABLE latency_histogram ADD CONSTRAINT latency_histogram_pkey PRIMARY KEY ({KEY})",
)


def apply(conn: Connection) -> None:
    """Re-key the per-project latency histogram, project first."""
    for statement in SQLITE if conn.dialect.name == "sqlite" else POSTGRESQL:
        conn.exec_driver_sql(statement)
