"""`ingest`, `reprice` and `uploads`: load request logs, re-price them, manage uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import (
    EXIT_ATTENTION,
    EXIT_OK,
    EXIT_UNUSABLE,
    DbOption,
    JsonOption,
    cli_actor,
    emit_json,
    fail,
    money,
    open_db,
)
from core.costs import picos_to_usd
from core.logs import format_descriptions, parse_mapping
from db.ingest import IngestReport, delete_upload, ingest_file, list_uploads, reprice
from integrations.settings import SettingError, format_state

FORMATS = format_descriptions()
FormatOption = Annotated[
    str | None,
    typer.Option("--format", help=f"Skip detection: {', '.join(FORMATS)}."),
]
ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="Project for records that name none (also keys the source)."),
]
MapOption = Annotated[
    str | None,
    typer.Option(
        "--map", help='CSV columns for the log fields, e.g. "timestamp=time,input_tokens=prompt".'
    ),
]


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Log files (JSON lines, JSON, CSV).")],
    fmt: FormatOption = None,
    project: ProjectOption = None,
    mapping: MapOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate, price and store request logs; exit 1 when lines were rejected or unpriced."""
    if fmt and fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    try:
        columns = parse_mapping(mapping) if mapping else None
    except ValueError as exc:
        fail(f"--map: {exc}")
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
    try:
        state = format_state()  # the Bedrock model mapping, from the settings
    except SettingError as exc:
        fail(str(exc))
    engine = open_db(db)
    total = IngestReport()
    unusable = 0
    for path in files:
        report = ingest_file(
            engine, path, fmt=fmt, project=project, mapping=columns, state=state, actor=cli_actor()
        )
        unusable += bool(report.file_error)
        total.merge(report)
        if not as_json:
            _print_file(path, report)
    if as_json:
        emit_json(total.as_json())
    elif len(files) > 1:
        _print_totals(total)
    if unusable == len(files):
        raise typer.Exit(EXIT_UNUSABLE)
    raise typer.Exit(EXIT_ATTENTION if total.needs_attention else EXIT_OK)


def _print_file(path: Path, report: IngestReport) -> None:
    if report.file_error:
        typer.echo(f"error: {path}: {report.file_error}", err=True)
        return
    typer.echo(
        f"{path}: {report.format}, source {report.source!r}: {report.accepted:,} accepted, "
        f"{report.duplicates:,} duplicates, {report.conflicts:,} conflicts, "
        f"{report.rejected:,} rejected, cost ${money(report.cost_usd)}"
    )
    for error in report.errors[:20]:
        typer.echo(f"  line {error.line}: {error.field}: {error.reason}")
    if report.rejected > 20:
        typer.echo(f"  ... and {report.rejected - 20:,} more rejected lines (see --json)")
    if report.unpriced_models:
        typer.echo(f"  unpriced (not counted as $0): {', '.join(sorted(report.unpriced_models))}")
    if report.scrubbed:
        typer.echo(f"  scrubbed: {', '.join(f'{k} x{n}' for k, n in report.scrubbed.items())}")


def _print_totals(total: IngestReport) -> None:
    typer.echo(
        f"total: {total.accepted:,} accepted, {total.duplicates:,} duplicates, "
        f"{total.conflicts:,} conflicts, {total.rejected:,} rejected, "
        f"cost ${money(total.cost_usd)}"
    )


def reprice_command(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Recompute every stored cost and rollup with the current prices (after price changes)."""
    result = reprice(open_db(db), actor=cli_actor())
    payload = {
        "rows": result.rows,
        "cost_before_usd": picos_to_usd(result.before_pusd),
        "cost_after_usd": picos_to_usd(result.after_pusd),
        "change_usd": result.change_usd,
        "unpriced_models": sorted(result.unpriced_models),
        "pruned_before": result.kept_from,  # those days keep their stored cost
    }
    if as_json:
        emit_json(payload)
        return
    typer.echo(
        f"re-priced {result.rows:,} requests: ${money(payload['cost_before_usd'])} -> "
        f"${money(payload['cost_after_usd'])} (change ${money(result.change_usd)})"
    )
    if result.kept_from is not None:
        typer.echo(
            f"requests before {result.kept_from} were pruned: those days keep the cost "
            "stored when they were ingested"
        )


uploads_app = typer.Typer(help="Uploaded log files: list them, delete one with its rows.")


@uploads_app.command("list")
def uploads_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every upload, newest first."""
    frame = list_uploads(open_db(db))
    records = [
        {
            "id": int(row.id),
            "file_name": row.file_name,
            "format": row.format,
            "source": row.source,
            "accepted": int(row.accepted),
            "duplicates": int(row.duplicates),
            "conflicts": int(row.conflicts),
            "rejected": int(row.rejected),
            "cost_usd": picos_to_usd(int(row.cost_pusd)),
            "created_at": row.created_at.isoformat(),
        }
        for row in frame.itertuples()
    ]
    if as_json:
        emit_json({"uploads": records})
        return
    if not records:
        typer.echo("no uploads yet; load logs with: python cli.py ingest FILE")
    for r in records:
        typer.echo(
            f"{r['id']:>5}  {r['created_at'][:19]}  {r['file_name']}  ({r['format']}, "
            f"{r['accepted']:,} rows, ${money(r['cost_usd'])})"
        )


@uploads_app.command("delete")
def uploads_delete(
    upload_id: Annotated[int, typer.Argument(metavar="ID", help="Upload id (see uploads list).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an upload: its request rows and their share of the rollups go with it."""
    removed = delete_upload(open_db(db), upload_id, actor=cli_actor())
    if removed is None:
        fail(f"no upload with id {upload_id}")
    if as_json:
        emit_json({"deleted": upload_id, "rows": removed})
        return
    typer.echo(f"deleted upload {upload_id} and its {removed:,} requests")


def register(app: typer.Typer) -> None:
    """Add `ingest`, `reprice` and `uploads` to the CLI."""
    app.command("ingest")(ingest)
    app.command("reprice")(reprice_command)
    app.add_typer(uploads_app, name="uploads")
