"""Shared CLI plumbing: the --db option, JSON output, exit codes of the CLI contract."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.access import Actor, local_admin

EXIT_OK, EXIT_ATTENTION, EXIT_UNUSABLE = 0, 1, 2

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: COSTDESK_DATABASE_URL, then data/costdesk.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def money(value: Decimal) -> str:
    """A decimal string with at least two places and no float rounding: 120.00, 0.0125."""
    value = value.normalize() if value == value.to_integral_value() else value
    text = f"{value:f}"
    if "." not in text:
        return text + ".00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def json_text(payload: dict[str, Any]) -> str:
    """`payload` as one JSON object's text; Decimals become decimal strings."""
    return json.dumps(payload, default=_default, indent=2)


def emit_json(payload: dict[str, Any]) -> None:
    """Print `payload` as one JSON object; Decimals become decimal strings."""
    typer.echo(json_text(payload))


def fail(reason: str) -> NoReturn:
    """Unusable input: one line on stderr, exit 2."""
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(EXIT_UNUSABLE)


def warn(message: str) -> None:
    """A note on stderr that does not change the exit code."""
    print(message, file=sys.stderr)


def open_db(url: str | None) -> Engine:
    """The migrated engine, or exit 2 with a one-line reason when the database is unusable."""
    from db.engine import make_engine

    try:
        return make_engine(url)
    except (SQLAlchemyError, OSError) as exc:
        fail(
            f"cannot open the database ({type(exc).__name__}); check --db or COSTDESK_DATABASE_URL"
        )


def cli_actor() -> Actor:
    """Who the command line acts as: the local administrator (shell access is full access),
    recorded in the audit trail under the account that ran it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        who = "unknown"
    return local_admin(name=f"cli:{who}", via="cli")
