"""0003_scenarios: saved scenarios (named parameter sets stored as JSON).

Its place after the two 0004 steps is the order it was released in, which databases record.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0003_scenarios"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS scenario (
        name VARCHAR(120) NOT NULL,
        kind VARCHAR(40) NOT NULL,
        params JSON NOT NULL,
        created_at {timestamp} NOT NULL,
        updated_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_scenario_kind_name UNIQUE (kind, name)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_scenario_kind ON scenario (kind)",
)


def apply(conn: Connection) -> None:
    """Create `scenario` and its index."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
