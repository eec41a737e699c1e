"""`digest`: the weekly or monthly summary, printed and (with --notify) sent once per period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from commands.alerts import parse_as_of
from commands.common import (
    EXIT_ATTENTION,
    EXIT_OK,
    DbOption,
    JsonOption,
    emit_json,
    fail,
    open_db,
    warn,
)
from core.digest import KINDS, digest_lines, digest_record
from integrations.digest import SendResult, build_digest, send_digest
from integrations.notify import load_config


def result_json(result: SendResult) -> dict[str, Any]:
    """What sending did, for the JSON output."""
    return {
        "already_sent": sorted(result.already_sent),
        "in_progress": result.in_progress,
        "deliveries": [
            {"channel": d.channel, "ok": d.ok, "attempts": d.attempts, "error": d.error,
             "warning": d.warning}
            for d in result.deliveries
        ],
    }  # fmt: skip


def _say(result: SendResult, period: str) -> None:
    """One line per channel: sent, already sent, being sent, or failed."""
    for channel, at in sorted(result.already_sent.items()):
        typer.echo(f"{period} already sent on {channel} ({at:%Y-%m-%d %H:%M} UTC): not sent again")
    for channel in result.in_progress:
        typer.echo(f"{period} is being sent on {channel} by another run: not sent again")
    for d in result.deliveries:
        if d.ok:
            typer.echo(f"sent on {d.channel}" + (f" ({d.warning})" if d.warning else ""))
        else:
            typer.echo(f"delivery failed on {d.channel} after {d.attempts} attempts: {d.error}")
    if not result.deliveries:
        typer.echo("nothing sent")


def digest(
    period: Annotated[str, typer.Option(help="week (Monday to Sunday) or month.")] = "week",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Summarise the last complete period before this day (YYYY-MM-DD or an ISO "
            "timestamp; default today, UTC).",
        ),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send it on the configured channels (once).")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Spend, change, top models/projects/users, budgets, alerts and the biggest saving."""
    kind = period.strip().lower()
    if kind not in KINDS:
        fail(f"--period must be week or month, got {period!r}")
    before = (parse_as_of(as_of) or datetime.now(UTC)).astimezone(UTC).date()
    engine = open_db(db)
    found = build_digest(engine, kind, before)
    sent = None
    if notify:
        config = load_config()
        if not config.channels:
            warn(
                "no notification channel configured: set COSTDESK_WEBHOOK_URL, "
                "COSTDESK_SLACK_WEBHOOK_URL or COSTDESK_SMTP_HOST + COSTDESK_ALERT_EMAIL_TO"
            )
            raise typer.Exit(EXIT_ATTENTION)
        sent = send_digest(engine, found, config)
    if as_json:
        emit_json({**digest_record(found), **({"sending": result_json(sent)} if sent else {})})
    else:
        typer.echo("\n".join(digest_lines(found)))
        if sent is not None:
            _say(sent, found.period.label)
    raise typer.Exit(EXIT_ATTENTION if sent is not None and sent.failed else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `digest` to the CLI."""
    app.command("digest")(digest)
