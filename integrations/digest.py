"""Scheduled digests: gather a period's figures, then send them once per period and channel.

The content is built by `core.digest` from what this module reads: spend per model, project
and user (`db.queries.attribution`), budgets at the period's end (`db.budgets`), the alert
events stored during the period, and the routing suggestion that would have saved most
(`core.digest.best_saving`). Sending goes through `integrations.notify` (deadlines, retries,
no secret in an error) on every configured channel; `db.digests` makes each (period, channel)
go out once, so a second run of the same period sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.costs import picos_to_usd
from core.currency import Conversion, CurrencyError
from core.digest import (
    AlertLine,
    BudgetLine,
    Digest,
    Period,
    Ranked,
    Saving,
    best_saving,
    digest_lines,
    digest_record,
    last_complete,
    targets_by_price,
    top_centres,
)
from core.routing import Rule, cut_points, match_labels
from db import digests
from db.budgets import BudgetError, budget_overview, list_budgets, list_events
from db.fx import conversion
from db.prices import load_price_book
from db.queries.attribution import spend_by
from db.traffic import grouped_traffic
from integrations.notify import (
    Delivery,
    NotifyConfig,
    Send,
    body_text,
    channel_sender,
    header_text,
    slack_escape,
    tls_warning,
    with_retries,
)

TOP = 5
TOP_DIMENSIONS = ("model", "project", "user")
SUGGEST_MAX_INPUT_TOKENS = 2000  # the Routing page's default threshold
SUGGEST_TARGETS = 6  # the cheapest logged models tried as targets


def _end_instant(day: date) -> datetime:
    """The last moment of `day` (UTC)."""
    return datetime.combine(day + timedelta(days=1), clock.min, UTC) - timedelta(microseconds=1)


def _total_usd(frame: pd.DataFrame) -> Decimal:
    """The exact spend of a `spend_by` frame."""
    return picos_to_usd(sum((int(p) for p in frame["cost_pusd"]), 0))


def _spend(engine: Engine, period: Period) -> tuple[Decimal, dict[str, list[Ranked]]]:
    """The period's spend (USD, exact) and the most expensive centres of each dimension."""
    frames = {dim: spend_by(engine, [dim], period.start, period.end) for dim in TOP_DIMENSIONS}
    top = {dim: top_centres(frame, dim, TOP) for dim, frame in frames.items()}
    return _total_usd(frames[TOP_DIMENSIONS[0]]), top


def _budgets(engine: Engine, at: datetime) -> list[BudgetLine]:
    """Every budget as it stood at `at`."""
    out = []
    for budget in list_budgets(engine):
        try:
            status = budget_overview(engine, budget, at)
        except BudgetError:  # its currency has no rate yet: the alert check says so
            continue
        out.append(
            BudgetLine(
                budget.name,
                budget.scope,
                status.spent_usd,
                status.amount_usd,
                status.used_pct,
                status.forecast.forecast_usd,
                status.reached,
            )
        )
    return out


def _alerts(engine: Engine, period: Period) -> list[AlertLine]:
    """Alert events stored during the period, oldest first."""
    since = datetime.combine(period.start, clock.min, UTC)
    until = datetime.combine(period.end + timedelta(days=1), clock.min, UTC)
    rows = list_events(engine, since=since, until=until)
    return [AlertLine(r.kind, r.scope, r.message, r.fired_at) for r in reversed(rows)]


def _saving(engine: Engine, period: Period) -> Saving | None:
    """The biggest saving the routing suggestions find in the period's traffic."""
    book = load_price_book(engine)
    models = spend_by(engine, ["model"], period.start, period.end)["model"].tolist()
    targets = targets_by_price([m for m in models if m], book, period.end, SUGGEST_TARGETS)
    if not targets:
        return None
    probes = [Rule(max_input_tokens=SUGGEST_MAX_INPUT_TOKENS, target=t, share=1) for t in targets]
    input_cuts, output_cuts = cut_points(probes, book, period.end)
    traffic = grouped_traffic(
        engine,
        period.start,
        period.end,
        input_cuts=input_cuts,
        output_cuts=output_cuts,
        labels=match_labels(probes),
    )
    return best_saving(
        traffic,
        book,
        targets,
        max_input_tokens=SUGGEST_MAX_INPUT_TOKENS,
        when=period.end,
        period_days=period.days,
    )


def _conversion(engine: Engine, day: date) -> tuple[Conversion, tuple[str, ...]]:
    """The display currency at `day`'s rate; USD with a note saying why when it has none."""
    try:
        return conversion(engine, day), ()
    except CurrencyError as exc:
        return Conversion(), (f"Figures in USD: {exc}",)


def build_digest(engine: Engine, kind: str, before: date) -> Digest:
    """The digest of the last complete week or month before the day `before`."""
    period = last_complete(kind, before)
    previous = period.previous()
    spend, top = _spend(engine, period)
    currency, notes = _conversion(engine, period.end)
    return Digest(
        period=period,
        spend_usd=spend,
        previous_usd=_total_usd(spend_by(engine, ["model"], previous.start, previous.end)),
        top=top,
        budgets=_budgets(engine, _end_instant(period.end)),
        alerts=_alerts(engine, period),
        saving=_saving(engine, period),
        conversion=currency,
        notes=notes,
    )


# ---------------------------------------------------------------- messages


def webhook_message(d: Digest) -> dict[str, Any]:
    """The generic webhook body."""
    return {"source": "costdesk", "type": "digest", **_plain(digest_record(d))}


def _plain(value: Any) -> Any:
    """`value` with datetimes as ISO text, for JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if isinstance(value, datetime) else value


def _title(d: Digest) -> str:
    return f"Costdesk {d.period.kind}ly digest {d.period.label}: {d.money(d.spend_usd)}"


def slack_message(d: Digest) -> dict[str, Any]:
    """Slack incoming-webhook body: the text, and a header plus one section per line."""
    lines = digest_lines(d, escape=slack_escape)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text(_title(d), 150)}}
    ]
    body = "\n".join(lines[1:])
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}}]
    return {"text": "\n".join(lines), "blocks": blocks}


def email_message(d: Digest, config: NotifyConfig) -> EmailMessage:
    """A plain-text e-mail of the digest; no name from a log can add or break a header."""
    msg = EmailMessage()
    msg["Subject"] = header_text(_title(d))
    msg["From"] = header_text(config.smtp_from)
    msg["To"] = ", ".join(header_text(a) for a in config.email_to)
    msg.set_content(body_text("\n".join(digest_lines(d)) + "\n"))
    return msg


def _sender(channel: str, d: Digest, config: NotifyConfig) -> Send:
    """The send function of one channel for the digest."""
    return channel_sender(
        channel,
        config,
        webhook=lambda: webhook_message(d),
        slack=lambda: slack_message(d),
        email=lambda: email_message(d, config),
    )


# ---------------------------------------------------------------- sending once


@dataclass
class SendResult:
    """What one run sent, and what it left alone."""

    deliveries: list[Delivery] = field(default_factory=list)
    already_sent: dict[str, datetime] = field(default_factory=dict)
    in_progress: list[str] = field(default_factory=list)  # claimed by another run right now

    @property
    def failed(self) -> list[Delivery]:
        """Channels that could not be sent this time (the next run tries them again)."""
        return [d for d in self.deliveries if not d.ok]


def _deliver(
    engine: Engine,
    d: Digest,
    channel: str,
    config: NotifyConfig,
    sleep: Callable[[float], None],
) -> Delivery:
    """Send the digest on one claimed channel; mark it sent, or give the claim back."""
    try:
        delivery = with_retries(channel, _sender(channel, d, config), config, sleep)
    except Exception as exc:  # a message that cannot even be built is a failed delivery
        delivery = Delivery(channel, False, 0, type(exc).__name__)
    if delivery.ok:
        digests.mark_sent(engine, d.period.label, channel)
        warning = tls_warning(config) if channel == "email" else ""
        return Delivery(channel, True, delivery.attempts, "", warning)
    digests.release(engine, d.period.label, channel)
    return delivery


def send_digest(
    engine: Engine, d: Digest, config: NotifyConfig, sleep: Callable[[float], None] = time.sleep
) -> SendResult:
    """Send `d` on every configured channel it has not gone out on yet, all channels at once."""
    result = SendResult(already_sent=digests.sent_channels(engine, d.period.label))
    wanted = [c for c in config.channels if c not in result.already_sent]
    claimed = [c for c in wanted if digests.claim(engine, d.period.label, c)]
    result.in_progress = [c for c in wanted if c not in claimed]
    if claimed:
        with ThreadPoolExecutor(max_workers=len(claimed)) as pool:
            jobs = [pool.submit(_deliver, engine, d, c, config, sleep) for c in claimed]
            result.deliveries = [job.result() for job in jobs]
    return result
