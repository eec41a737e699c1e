"""0005_budgets_alerts: budgets, alert rules and alert events."""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0005_budgets_alerts"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS budget (
        name VARCHAR NOT NULL,
        amount_pusd BIGINT NOT NULL,
        scope VARCHAR NOT NULL,
        thresholds VARCHAR NOT NULL,
        timezone VARCHAR NOT NULL,
        forecast_alert BOOLEAN NOT NULL,
        muted_until {timestamp},
        created_at {timestamp} NOT NULL,
        updated_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_budget_name UNIQUE (name)
    )""",
    """CREATE TABLE IF NOT EXISTS alert_rule (
        kind VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        enabled BOOLEAN NOT NULL,
        params TEXT NOT NULL,
        muted_until {timestamp},
        updated_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_alert_rule UNIQUE (kind, scope)
    )""",
    """CREATE TABLE IF NOT EXISTS alert_event (
        kind VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        subject VARCHAR NOT NULL,
        "key" VARCHAR NOT NULL,
        period VARCHAR NOT NULL,
        value NUMERIC(24, 6) NOT NULL,
        threshold NUMERIC(24, 6) NOT NULL,
        unit VARCHAR NOT NULL,
        message TEXT NOT NULL,
        fired_at {timestamp} NOT NULL,
        created_at {timestamp} NOT NULL,
        acknowledged_at {timestamp},
        notified_at {timestamp},
        deliveries TEXT NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_alert_event_once UNIQUE ("key", period)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_alert_event_fired_at ON alert_event (fired_at)",
    "CREATE INDEX IF NOT EXISTS ix_alert_event_kind ON alert_event (kind)",
)


def apply(conn: Connection) -> None:
    """Create the three tables and their indexes."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
