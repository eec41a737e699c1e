"""0018_fx_rates_digests: exchange rates, display preferences and digests sent once per period.

`fx_rate` holds the rates users record (units of a currency per USD from a date on), the rate
as exact decimal text; `display_preference` holds named choices such as the display currency;
`digest_delivery` records each (period, channel) a digest was claimed for and, once it went
out, when it was sent.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0018_fx_rates_digests"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS fx_rate (
        currency VARCHAR NOT NULL,
        effective_on DATE NOT NULL,
        per_usd VARCHAR NOT NULL,
        note VARCHAR NOT NULL,
        created_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_fx_rate_day UNIQUE (currency, effective_on)
    )""",
    """CREATE TABLE IF NOT EXISTS display_preference (
        name VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        updated_at {timestamp} NOT NULL,
        PRIMARY KEY (name)
    )""",
    """CREATE TABLE IF NOT EXISTS digest_delivery (
        period VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        claimed_at {timestamp} NOT NULL,
        sent_at {timestamp},
        PRIMARY KEY (period, channel)
    )""",
)


def apply(conn: Connection) -> None:
    """Create the three tables."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
