"""`report`: who spent it, per model, provider, project, feature or user, for cron and finance.

Figures come from `db.queries.attribution` (rollups, or raw rows of the period for `user`) and
`core.attribution` (unallocated lines, cents that add up). JSON keeps exact decimal strings;
CSV, Excel and the table show cents whose lines add up to the total.
"""

from __future__ import annotations

import io
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from commands.common import DbOption, JsonOption, fail, json_text, open_db, warn
from core.attribution import KEY_SEPARATOR, Lines, lines, share
from core.currency import BASE, CurrencyError, money_text
from core.exports import csv_bytes, xlsx_bytes
from db.fx import conversion
from db.queries.attribution import DIMENSIONS, UnknownDimension, dimensions, spend_by

FORMATS = ("table", "json", "csv", "xlsx")
COUNTS = ("requests", "input_tokens", "cached_input_tokens", "output_tokens")
TOTAL = "Total"

ByOption = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        help=f"Split by: {', '.join(DIMENSIONS)} or tag:KEY (the value of KEY=value tags; "
        "repeat for a combination, e.g. --by project --by user). Records without a value are "
        "shown as 'unallocated'; by tag, a request counts under each of its tags.",
    ),
]


def _date(text: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD option, or exit 2."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{flag} must be a date like 2026-01-31, got {text!r}")


def period(start_text: str | None, end_text: str | None) -> tuple[date, date]:
    """Inclusive days: --to defaults to yesterday (UTC), --from to the first of its month."""
    end = _date(end_text, "--to") or datetime.now(UTC).date() - timedelta(days=1)
    start = _date(start_text, "--from") or end.replace(day=1)
    if start > end:
        fail(f"--from {start} is after --to {end}")
    return start, end


def output_format(name: str | None, as_json: bool) -> str:
    """The output format; --json is --format json."""
    chosen = (name or ("json" if as_json else "table")).strip().lower()
    if chosen not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, got {name!r}")
    if as_json and chosen != "json":
        fail(f"--json and --format {chosen} ask for two formats: give one")
    return chosen


# ---------------------------------------------------------------- renderings


def row_json(row: pd.Series, result: Lines) -> dict[str, Any]:
    """One line of the JSON output."""
    record: dict[str, Any] = {
        "key": row["key"],
        "keys": {dim: row[dim] for dim in result.dims},
        "unallocated": bool(row["unallocated"]),
        **{name: int(row[name]) for name in COUNTS},
        "cost_usd": row["cost_usd"],
    }
    if result.converted:
        record["cost"] = row["cost"]
    return record


def payload(result: Lines, start: date, end: date) -> dict[str, Any]:
    """The `report --json` object of the CLI contract (exact money strings)."""
    out: dict[str, Any] = {
        "from": start,
        "to": end,
        "by": list(result.dims),
        "currency": result.conversion.currency,
        "rows": [row_json(row, result) for _, row in result.table.iterrows()],
        "requests": int(result.table["requests"].sum()) if len(result.table) else 0,
        "total_cost_usd": result.total_usd,
    }
    rate = result.conversion.rate
    if rate is not None:
        out.update(rate=rate.text, rate_date=rate.day, total_cost=result.total)
    return out


def report_frame(result: Lines) -> pd.DataFrame:
    """The lines in cents with a total row: what CSV and Excel hold (lines add up to it)."""
    table = result.table
    columns: dict[str, list[Any]] = {dim: [*table[dim], ""] for dim in result.dims}
    columns[result.dims[0]][-1] = TOTAL
    for name in COUNTS:
        columns[name] = [*(int(v) for v in table[name]), int(table[name].sum())]
    columns["cost_usd"] = [*table["cost_cents"], result.total_cents]
    rate = result.conversion.rate
    if rate is not None:
        code = result.conversion.currency.lower()
        columns[f"cost_{code}"] = [*table["cost_converted_cents"], result.total_converted_cents]
        columns[f"{code}_per_usd"] = [rate.text] * (len(table) + 1)
        columns["rate_date"] = [rate.day.isoformat()] * (len(table) + 1)
    frame = pd.DataFrame(columns)
    money = [c for c in frame.columns if c.startswith("cost_")]
    return frame.astype({c: str for c in money})


def table_text(result: Lines, start: date, end: date, width: int) -> str:
    """A table for people: thousands separators, cents that add up, each line's share."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False)
    dims = " / ".join(DIMENSIONS[d].label.lower() for d in result.dims)
    console.print(f"Spend {start} .. {end} by {dims}", markup=False)
    code = result.conversion.currency
    table = Table(KEY_SEPARATOR.join(DIMENSIONS[d].label for d in result.dims), show_footer=True)
    headers = ("Requests", "Input tokens", "Cached input", "Output tokens", "Cost (USD)", "Share")
    for name in headers:
        table.add_column(name, justify="right")
    if result.converted:
        table.add_column(f"Cost ({code})", justify="right")
    for _, row in result.table.iterrows():
        cells = [f"{int(row[n]):,}" for n in COUNTS]
        cells += [money_text(row["cost_cents"]), _share(row["cost_usd"], result)]
        if result.converted:
            cells.append(money_text(row["cost_converted_cents"], code))
        table.add_row(Text(row["key"]), *cells)
    _footer(table, result)
    console.print(table)
    if result.converted:
        console.print(f"{code} figures: {result.conversion.note}", markup=False)
    return buffer.getvalue()


def _share(value: Any, result: Lines) -> str:
    part = share(value, result.total_usd)
    return "—" if part is None else f"{float(part) * 100:.1f} %"


def _footer(table: Table, result: Lines) -> None:
    """Totals under each column."""
    counts = [f"{int(result.table[n].sum()) if len(result.table) else 0:,}" for n in COUNTS]
    footers = [TOTAL, *counts, money_text(result.total_cents), ""]
    if result.converted:
        footers.append(money_text(result.total_converted_cents, result.conversion.currency))
    for column, text in zip(table.columns, footers, strict=True):
        column.footer = text


def write(data: bytes, output: str | None, binary: bool) -> None:
    """`data` to --output, else to stdout (a workbook never to a terminal)."""
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            fail(f"cannot write {output!r}: {exc.strerror or type(exc).__name__}")
        warn(f"wrote {output}")
        return
    if binary and sys.stdout.isatty():
        fail("--format xlsx writes a workbook: give --output FILE")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# ---------------------------------------------------------------- the command


def report(
    by: ByOption = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 1st of --to's).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: yesterday, UTC).")
    ] = None,
    format_: Annotated[
        str | None, typer.Option("--format", help="table (default), json, csv or xlsx.")
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", help="Write to this file instead of stdout.")
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(help="Also show costs in this currency (default: the display currency)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Spend per cost centre for a period: requests, tokens and cost, with unallocated spend."""
    start, end = period(from_, to)
    try:
        dims = dimensions(by or [])
    except UnknownDimension as exc:
        fail(f"--by: {exc}")
    fmt = output_format(format_, as_json)
    engine = open_db(db)
    try:
        conv = conversion(engine, end, currency)
    except CurrencyError as exc:
        fail(f"--currency: {exc}" if currency else f"{exc} (or pass --currency {BASE})")
    result = lines(spend_by(engine, dims, start, end), dims, conv)
    unpriced = int(result.table["unpriced_requests"].sum()) if len(result.table) else 0
    if unpriced:
        warn(f"{unpriced:,} requests have no price in the price book: they count as $0")
    write(render(fmt, result, start, end, bool(output)), output, binary=fmt == "xlsx")


def render(fmt: str, result: Lines, start: date, end: date, to_file: bool) -> bytes:
    """The report in `fmt`, as the bytes to write."""
    if fmt == "json":
        return (json_text(payload(result, start, end)) + "\n").encode()
    if fmt == "csv":
        return csv_bytes(report_frame(result), bom=True)
    if fmt == "xlsx":
        frame = report_frame(result)
        money = tuple(c for c in frame.columns if c.startswith("cost_"))
        return xlsx_bytes(frame, money_columns=money, count_columns=COUNTS)
    width = 160 if to_file or not sys.stdout.isatty() else shutil.get_terminal_size().columns
    return table_text(result, start, end, width).encode()


def register(app: typer.Typer) -> None:
    """Add `report` to the CLI."""
    app.command("report")(report)
