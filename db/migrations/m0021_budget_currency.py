"""0021_budget_currency: a budget's amount may be set in another currency than USD.

`budget.currency` is the ISO 4217 code of the budget's amount (`amount_pusd` then holds
pico-units of that currency). Budgets stored before this step were in US dollars and say so.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0021_budget_currency"

STATEMENT = "ALTER TABLE budget ADD COLUMN currency VARCHAR DEFAULT 'USD' NOT NULL"


def apply(conn: Connection) -> None:
    """Add the currency column; existing budgets are in USD (same SQL on both databases)."""
    conn.exec_driver_sql(STATEMENT)
