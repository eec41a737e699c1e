"""Multi-row INSERT statements run on the driver's own cursor.

Why not SQLAlchemy's batched insert (`conn.execute(insert(...), rows)` with its
"insertmanyvalues" mode)? It takes a dict per row and runs each value through the column's
type processor; for request rows (40 columns) that costs more than the whole rest of the
ingest. Here rows are tuples of driver values (`rows.row_values`) and the statement is
SQLAlchemy Core's own INSERT ... ON CONFLICT compiled once per dialect: run by the driver's
`executemany`, or with its VALUES group repeated for a batch of rows (one round trip per
batch on PostgreSQL, with RETURNING). The statements run inside the Core transaction the
caller began.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

# Values per statement. PostgreSQL: many, for few round trips (under its 65,535). SQLite runs
# in the process, where a round trip is a function call, but keeps each distinct statement
# compiled, and a program for 16,000 values is over a megabyte: at 2,000 the writer's
# statements hold about 30 MB less (measured on a 1M-line ingest), at the same speed.
MAX_PARAMS = {"sqlite": 2_000, "postgresql": 16_000}
_STATEMENTS: dict[tuple, str] = {}


def dialect_module(name: str) -> Any:
    """SQLAlchemy's dialect package for an engine's dialect name (ON CONFLICT support)."""
    return postgresql if name == "postgresql" else sqlite


def multi_row_sql(stmt: Any, dialect_name: str, n_columns: int, n_rows: int) -> str:
    """A Core INSERT compiled for the dialect, its VALUES group repeated for `n_rows` rows."""
    sql = str(stmt.compile(dialect=dialect_module(dialect_name).dialect()))
    values, _, rest = sql.partition(" ON CONFLICT ")
    head = values.partition(" VALUES ")[0]
    mark = "?" if dialect_name == "sqlite" else "%s"
    one = "(" + ", ".join([mark] * n_columns) + ")"
    return f"{head} VALUES {', '.join([one] * n_rows)} ON CONFLICT {rest}"


def execute_flat(
    conn: Connection, key: tuple, make: Callable[[], Any], flat: list, width: int
) -> list:
    """Run the INSERT built by `make` over `flat` (rows of `width` values, one after another)
    in parameter-limited batches; returns the first column of what RETURNING gave."""
    rows = len(flat) // width
    if not rows:
        return []
    name = conn.dialect.name
    per = max(1, MAX_PARAMS.get(name, MAX_PARAMS["sqlite"]) // width)
    returned: list = []
    start = 0
    cursor = conn.connection.cursor()
    try:
        while start < rows:
            # Full batches, then power-of-two remainders: a handful of distinct statements per
            # table, so neither this cache nor the driver's prepared-statement cache grows.
            left = rows - start
            size = per if left >= per else 1 << (left.bit_length() - 1)
            part = flat[start * width : (start + size) * width]
            start += size
            cache_key = (*key, name, size)
            if cache_key not in _STATEMENTS:
                _STATEMENTS[cache_key] = multi_row_sql(make(), name, width, size)
            _execute(conn, cursor, _STATEMENTS[cache_key], part)
            if cursor.description is not None:  # a RETURNING clause
                returned += [r[0] for r in cursor.fetchall()]
    finally:
        cursor.close()
    return returned


def _execute(conn: Connection, cursor: Any, statement: str, params: list) -> None:
    """Run one statement on the driver's cursor; the driver's errors are raised as
    SQLAlchemy's (IntegrityError, OperationalError...), as Core would raise them."""
    try:
        cursor.execute(statement, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc


def execute_many(conn: Connection, cursor: Any, statement: str, rows: list[tuple]) -> None:
    """`executemany` on the driver's cursor, errors raised as SQLAlchemy's."""
    try:
        cursor.executemany(statement, rows)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
