"""`prune`: delete raw request rows older than the retention period; the rollups stay."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from commands.common import DbOption, JsonOption, cli_actor, emit_json, fail, open_db

OlderThanOption = Annotated[
    str | None,
    typer.Option(
        "--older-than",
        help="Age of the request rows to delete, in days: 90d or 90 (default: the "
        "COSTDESK_RETENTION_DAYS setting, or retention_days under [costdesk] in "
        ".streamlit/secrets.toml).",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
]
_AGE = re.compile(r"(\d+)\s*d?")


def _days(older_than: str | None) -> int:
    """The age in days from --older-than, else from the retention setting; exit 2 if unusable."""
    from integrations.settings import SettingError, retention_days

    if older_than is not None:
        found = _AGE.fullmatch(older_than.strip().lower())
        if found is None or not older_than.strip().isascii() or int(found.group(1)) < 1:
            fail(f"--older-than must be a number of days like 90d, got {older_than!r}")
        return int(found.group(1))
    try:
        days = retention_days()
    except SettingError as exc:
        fail(str(exc))
    if days is None:
        fail("give --older-than (e.g. 90d) or set COSTDESK_RETENTION_DAYS")
    return days


def prune(
    older_than: OlderThanOption = None,
    db: DbOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Delete raw request rows older than N days in batches; every rollup (usage, budgets,
    routing) keeps those days, at the cost stored when they went in."""
    from db.retention import cutoff_for
    from db.retention import prune as prune_rows

    days = _days(older_than)
    report = prune_rows(open_db(db), cutoff_for(days), dry_run=dry_run, actor=cli_actor())
    if as_json:
        emit_json(report.as_json())
        return
    if not report.rows:
        typer.echo(f"nothing to prune: no request rows before {report.cutoff}")
        return
    done = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{done} {report.rows:,} request rows of {report.first_day} .. {report.last_day} "
        f"(before {report.cutoff}); their days stay in every rollup"
    )


def register(app: typer.Typer) -> None:
    """Add `prune` to the CLI."""
    app.command("prune")(prune)
