"""`alerts check`: the cron-friendly check; exit 1 while any alert fires."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer

from commands.common import (
    EXIT_ATTENTION,
    EXIT_OK,
    DbOption,
    JsonOption,
    cli_actor,
    emit_json,
    fail,
    open_db,
    warn,
)
from core.alerts import Alert
from integrations.alerting import CheckResult, check_alerts
from integrations.notify import load_config

alerts_app = typer.Typer(help="Evaluate budgets and alert rules.", no_args_is_help=True)


def parse_as_of(text: str | None) -> datetime | None:
    """ISO instant (naive means UTC; 'Z' accepted); a bare date means the end of that UTC day."""
    if not text:
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(
                microseconds=1
            )
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        fail(f"--as-of {text!r} is not an ISO timestamp like 2026-03-31T12:00:00Z")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def alert_json(alert: Alert) -> dict:
    """One firing alert as the CLI contract shows it."""
    return {
        "kind": alert.kind,
        "scope": alert.scope,
        "subject": alert.subject,
        "value": alert.value,
        "threshold": alert.threshold,
        "unit": alert.unit,
        "period": alert.period,
        "message": alert.message,
    }


def result_json(result: CheckResult) -> dict:
    """The whole check as one JSON object."""
    return {
        "as_of": result.as_of,
        "firing": [alert_json(a) for a in result.firing],
        "muted": [alert_json(a) for a in result.muted],
        "new_events": len(result.new_event_ids),
        "notified": result.notified,
        "deliveries": [
            {
                "channel": d.channel,
                "ok": d.ok,
                "attempts": d.attempts,
                "error": d.error,
                "warning": d.warning,
            }
            for d in result.deliveries
        ],
    }


def _print(result: CheckResult) -> None:
    if not result.firing:
        typer.echo(f"no alerts firing as of {result.as_of:%Y-%m-%d %H:%M} UTC")
    for a in result.firing:
        typer.echo(f"FIRING {a.kind} [{a.scope}] {a.message}")
    for a in result.muted:
        typer.echo(f"muted  {a.kind} [{a.scope}] {a.message}")
    typer.echo(f"new events: {len(result.new_event_ids)}, notified: {result.notified}")
    for d in result.deliveries:
        if not d.ok:
            typer.echo(f"delivery failed on {d.channel} after {d.attempts} attempts: {d.error}")
        if d.warning:
            typer.echo(f"delivery warning on {d.channel}: {d.warning}")


@alerts_app.command("check")
def check_command(
    notify: Annotated[
        bool, typer.Option("--notify", help="Send new alerts to the configured channels.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Evaluate as if now were this instant (ISO, e.g. 2026-03-31T12:00:00Z; naive "
            "means UTC; a bare date means the end of that UTC day).",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every budget and rule, store new events, optionally notify; exit 1 while firing."""
    when = parse_as_of(as_of)
    config = load_config() if notify else None
    if config is not None and not config.channels:
        warn(
            "no notification channel configured: set COSTDESK_WEBHOOK_URL, "
            "COSTDESK_SLACK_WEBHOOK_URL or COSTDESK_SMTP_HOST + COSTDESK_ALERT_EMAIL_TO"
        )
    result = check_alerts(open_db(db), as_of=when, notify=config, actor=cli_actor())
    for problem in result.problems:
        warn(f"not evaluated: {problem}")
    if as_json:
        emit_json(result_json(result))
    else:
        _print(result)
    raise typer.Exit(EXIT_ATTENTION if result.firing else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `alerts check` to the CLI."""
    app.add_typer(alerts_app, name="alerts")
