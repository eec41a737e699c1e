"""The digest on a small log, by hand, and sending it once per period to real loopback servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as email_policy

import pytest
from sqlalchemy import Engine

from core.alerts import Alert
from core.digest import digest_lines
from db.budgets import record_events, set_budget
from db.engine import make_engine
from db.fx import record_rate, set_display_currency
from db.ingest import ingest_records
from integrations.digest import build_digest, send_digest
from integrations.notify import NotifyConfig
from tests.actors import ADMIN
from tests.integrations.servers import Receiver, smtp_server

WEDNESDAY = date(2026, 1, 14)  # the last complete week is 5-11 January (2026-W02)


def _records() -> list[dict]:
    # 2026-W02: 100 x gpt-4o, 1,000 in / 1,000 out: 100 x (0.0025 + 0.01) = $1.25, by ann.
    rows = [
        {"timestamp": f"2026-01-0{5 + i % 5}T10:00:00Z", "request_id": f"a{i}", "model": "gpt-4o",
         "input_tokens": 1000, "output_tokens": 1000, "project": "search", "user": "ann"}
        for i in range(100)
    ]  # fmt: skip
    # and one gpt-4o-mini call naming no project or user: 20,000 x 0.15/M + 5,000 x 0.6/M = $0.006
    rows.append({"timestamp": "2026-01-11T23:00:00Z", "request_id": "b", "model": "gpt-4o-mini",
                 "input_tokens": 20000, "output_tokens": 5000})  # fmt: skip
    # 2026-W01 (the week before): 40,000 x 2.5/M + 1,000 x 10/M = $0.11
    rows.append({"timestamp": "2026-01-02T10:00:00Z", "request_id": "c", "model": "gpt-4o",
                 "input_tokens": 40000, "output_tokens": 1000, "project": "legal", "user": "cy"})  # fmt: skip
    return rows


def _alert(key: str) -> Alert:
    return Alert("budget", "all", "Team", key, "2026-01", Decimal(1), Decimal(1), "%",
                 f"Team passed 1 % ({key})")  # fmt: skip


@pytest.fixture
def eng(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    ingest_records(engine, _records(), source="t", file_name="t.jsonl", actor=ADMIN)
    set_budget(
        engine, name="Team", amount_usd=100, thresholds="1,50", forecast_alert=False, actor=ADMIN
    )
    record_events(engine, [_alert("in-week")], datetime(2026, 1, 8, 9, tzinfo=UTC), actor=ADMIN)
    record_events(engine, [_alert("later")], datetime(2026, 1, 12, 9, tzinfo=UTC), actor=ADMIN)
    yield engine
    make_engine.cache_clear()


def test_the_weekly_digest_by_hand(eng: Engine) -> None:
    d = build_digest(eng, "week", WEDNESDAY)
    assert (d.period.label, d.period.start, d.period.end) == (
        "2026-W02",
        date(2026, 1, 5),
        date(2026, 1, 11),
    )
    assert d.spend_usd == Decimal("1.256") and d.previous_usd == Decimal("0.11")
    text = "\n".join(digest_lines(d))
    # +1.146 over 0.11 = +1041.8 %
    assert "Spend: $1.26 (previous week $0.11; +$1.15, +1041.8 %)" in text
    assert "Top models: gpt-4o $1.25, gpt-4o-mini $0.01" in text
    assert "Top projects: search $1.25, unallocated $0.01" in text
    assert "Top users: ann $1.25, unallocated $0.01" in text
    # January to 11 January: 1.256 + 0.11 = $1.366 of $100 = 1.37 %, past the 1 % threshold.
    assert "Team (all): $1.37 of $100.00 (1.37 %)" in text and "reached 1 %" in text
    assert "Alerts this week: 1" in text and "(in-week)" in text and "(later)" not in text
    # Each gpt-4o call on gpt-4o-mini: 1,000 x 0.15/M + 1,000 x 0.6/M = $0.00075, so moving
    # the 100 saves 100 x (0.0125 - 0.00075) = $1.175; per 30-day month x 30/7 = $5.04.
    assert d.saving is not None and d.saving.savings_usd == Decimal("1.175")
    assert (d.saving.target, d.saving.models) == ("gpt-4o-mini", ("gpt-4o",))
    assert "would have saved $1.18 this week ($5.04 per 30-day month)" in text


def test_the_digest_in_the_display_currency(eng: Engine) -> None:
    set_display_currency(eng, currency="EUR", actor=ADMIN)
    d = build_digest(eng, "week", WEDNESDAY)
    assert not d.conversion.converted
    assert d.notes == ("Figures in USD: no EUR rate dated on or before 2026-01-11: record one "
                       "(Exchange rates page) or show figures in USD",)  # fmt: skip
    record_rate(eng, currency="EUR", per_usd="0.5", effective_on=date(2026, 1, 1), actor=ADMIN)
    d = build_digest(eng, "week", WEDNESDAY)
    lines = digest_lines(d)
    assert lines[1].startswith("Spend: 0.63 EUR (previous week 0.06 EUR")  # 1.256 x 0.5 = 0.628
    assert "Figures in EUR: 1 USD = 0.5 EUR (rate of 2026-01-01)" in lines


def _config(hook: Receiver, slack: Receiver, smtp_port: int, **extra: object) -> NotifyConfig:
    return NotifyConfig(
        webhook_url=hook.url, slack_webhook_url=slack.url, smtp_host="127.0.0.1",
        smtp_port=smtp_port, smtp_tls="none", email_to=("finance@example.com",), backoff_s=0,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_period_is_sent_once_on_every_channel(eng: Engine) -> None:
    hook, slack = Receiver().start(), Receiver().start()
    controller, sink = smtp_server()
    try:
        d = build_digest(eng, "week", WEDNESDAY)
        first = send_digest(eng, d, _config(hook, slack, controller.port))
        assert sorted((x.channel, x.ok) for x in first.deliveries) == [
            ("email", True), ("slack", True), ("webhook", True)]  # fmt: skip
        second = send_digest(
            eng, build_digest(eng, "week", WEDNESDAY), _config(hook, slack, controller.port)
        )
        assert second.deliveries == [] and sorted(second.already_sent) == [
            "email",
            "slack",
            "webhook",
        ]
        assert (len(hook.received), len(slack.received), len(sink.messages)) == (1, 1, 1)
    finally:
        hook.stop(), slack.stop(), controller.stop()
    body = hook.received[0]["json"]
    assert (body["type"], body["period"], body["spend_usd"]) == ("digest", "2026-W02", "1.256")
    assert body["saving"]["savings_usd"] == "1.175"
    assert body["alerts"][0]["fired_at"] == "2026-01-08T09:00:00+00:00"
    assert slack.received[0]["json"]["text"].startswith("Costdesk weekly digest 2026-W02")
    mail = message_from_bytes(sink.messages[0].content, policy=email_policy)
    assert mail["Subject"] == "Costdesk weekly digest 2026-W02: $1.26"
    assert "Top users: ann $1.25, unallocated $0.01" in mail.get_content()


def test_a_failed_channel_is_sent_by_the_next_run_only(eng: Engine) -> None:
    broken, slack = Receiver(fail_first=99).start(), Receiver().start()
    controller, _ = smtp_server()
    try:
        config = _config(broken, slack, controller.port, retries=1)
        d = build_digest(eng, "month", date(2026, 2, 1))
        first = send_digest(eng, d, config)
        assert [(x.channel, x.error) for x in first.failed] == [("webhook", "HTTP 500")]
        assert broken.attempts == 2  # one try and one retry
        fixed = Receiver().start()
        second = send_digest(eng, d, _config(fixed, slack, controller.port))
        assert [(x.channel, x.ok) for x in second.deliveries] == [("webhook", True)]
        assert len(slack.received) == 1 and fixed.received[0]["json"]["period"] == "2026-01"
        fixed.stop()
    finally:
        broken.stop(), slack.stop(), controller.stop()
