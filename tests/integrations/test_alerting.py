"""The alert check with real loopback receivers: each event is sent once, failures retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from db.budgets import (
    BudgetError,
    delete_budget,
    deliveries_of,
    list_events,
    save_rule,
    set_budget,
)
from db.engine import make_engine
from integrations.alerting import check_alerts
from integrations.notify import NotifyConfig
from tests.actors import ADMIN
from tests.integrations.servers import Dripper, Receiver, smtp_server
from tests.rows import insert_rollup

ROOT = Path(__file__).resolve().parents[2]

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def eng(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    set_budget(
        engine, name="Team", amount_usd=100, thresholds="50,90", forecast_alert=False, actor=ADMIN
    )
    save_rule(engine, kind="cost_spike", params={}, enabled=False, actor=ADMIN)
    with engine.begin() as conn:  # $60 spent on Mar 1
        insert_rollup(
            conn,
            [{"day": date(2026, 3, 1), "model": "m", "cost_pusd": 60 * 10**12}],
        )
    yield engine
    make_engine.cache_clear()


def _config(*receivers: Receiver, **extra: object) -> NotifyConfig:
    urls = {"webhook_url": receivers[0].url}
    if len(receivers) > 1:
        urls["slack_webhook_url"] = receivers[1].url
    return NotifyConfig(**urls, backoff_s=0, **extra)  # type: ignore[arg-type]


def test_second_check_sends_nothing_new(eng: Engine) -> None:
    hook, slack = Receiver().start(), Receiver().start()
    try:
        first = check_alerts(eng, AS_OF, notify=_config(hook, slack), actor=ADMIN)
        assert len(first.firing) == 1 and first.notified == 1
        assert [d.channel for d in first.deliveries] == ["webhook", "slack"]
        second = check_alerts(eng, AS_OF, notify=_config(hook, slack), actor=ADMIN)
        assert len(second.firing) == 1 and second.notified == 0 and second.deliveries == []
        assert len(hook.received) == 1 and len(slack.received) == 1
        assert hook.received[0]["json"]["alerts"][0]["threshold"] == "50"
        assert "text" in slack.received[0]["json"]
    finally:
        hook.stop()
        slack.stop()


def test_failed_delivery_is_recorded_and_retried_next_check(eng: Engine) -> None:
    down = Receiver(fail_first=2).start()  # fails the first check (1 + 1 retry), then recovers
    try:
        first = check_alerts(eng, AS_OF, notify=_config(down, retries=1), actor=ADMIN)
        assert first.notified == 0 and not first.deliveries[0].ok
        (event,) = list_events(eng)
        assert deliveries_of(eng, event.id) == {"webhook": "failed: HTTP 500"}
        assert event.notified_at is None
        second = check_alerts(eng, AS_OF, notify=_config(down, retries=1), actor=ADMIN)
        assert second.notified == 1 and second.new_event_ids == []
        assert deliveries_of(eng, event.id) == {"webhook": "sent"}
        assert len(down.received) == 1
        assert "SECRET" not in json.dumps([e.deliveries for e in list_events(eng)])
    finally:
        down.stop()


def test_new_threshold_is_sent_alone(eng: Engine) -> None:
    hook = Receiver().start()
    try:
        check_alerts(eng, AS_OF, notify=_config(hook), actor=ADMIN)
        with eng.begin() as conn:  # +$35 -> 95 % crosses 90
            insert_rollup(
                conn,
                [{"day": date(2026, 3, 2), "model": "m", "cost_pusd": 35 * 10**12}],
            )
        later = check_alerts(eng, AS_OF.replace(day=11), notify=_config(hook), actor=ADMIN)
        assert len(later.firing) == 2 and len(later.new_event_ids) == 1 and later.notified == 1
        assert [a["threshold"] for a in hook.received[1]["json"]["alerts"]] == ["90"]
    finally:
        hook.stop()


def test_check_without_channels_still_stores(eng: Engine) -> None:
    result = check_alerts(eng, AS_OF, notify=NotifyConfig(), actor=ADMIN)
    assert len(result.new_event_ids) == 1 and result.notified == 0
    assert result.firing[0].value == Decimal("60.00")


def test_hung_webhook_is_cut_and_email_still_goes_out(eng: Engine) -> None:
    drip = Dripper(interval_s=1.0).start()
    controller, sink = smtp_server()
    email = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_tls": "none"}
    try:
        config = NotifyConfig(
            webhook_url=drip.url, email_to=("a@x.test",), timeout_s=1.5, deadline_s=2, **email
        )  # type: ignore[arg-type]
        started = time.monotonic()
        first = check_alerts(eng, AS_OF, notify=config, actor=ADMIN)
        assert time.monotonic() - started < 4.5
        assert first.notified == 1 and [d.ok for d in first.deliveries] == [False, True]
        (event,) = list_events(eng)
        status = deliveries_of(eng, event.id)
        assert status["email"] == "sent" and status["webhook"].startswith("failed: no complete")
        assert "SECRET" not in json.dumps(status) and len(sink.messages) == 1
        hook = Receiver().start()  # the hook recovers: the next check sends to it alone
        try:
            healed = NotifyConfig(webhook_url=hook.url, email_to=("a@x.test",), **email)  # type: ignore[arg-type]
            second = check_alerts(eng, AS_OF, notify=healed, actor=ADMIN)
            assert [(d.channel, d.ok) for d in second.deliveries] == [("webhook", True)]
            assert len(hook.received) == 1 and len(sink.messages) == 1
        finally:
            hook.stop()
    finally:
        drip.stop()
        controller.stop()


def test_redirect_is_recorded_as_failed_and_retried(eng: Engine) -> None:
    elsewhere = Receiver().start()
    hook = Receiver(redirect_to=elsewhere.url).start()
    try:
        first = check_alerts(eng, AS_OF, notify=_config(hook, retries=0), actor=ADMIN)
        assert first.notified == 0
        (event,) = list_events(eng)
        failed = deliveries_of(eng, event.id)
        assert failed == {"webhook": "failed: HTTP 302 redirect to 127.0.0.1 (not followed)"}
        assert elsewhere.attempts == 0 and hook.received == []
        hook.redirect_to = None  # fixed on the receiving side: the next check delivers
        second = check_alerts(eng, AS_OF, notify=_config(hook, retries=0), actor=ADMIN)
        assert second.notified == 1 and deliveries_of(eng, event.id) == {"webhook": "sent"}
        assert len(hook.received) == 1 and elsewhere.attempts == 0
    finally:
        hook.stop()
        elsewhere.stop()


def test_budget_name_with_a_line_break_still_mails_cleanly(eng: Engine) -> None:
    """New names with line breaks are refused; one stored before that rule must still mail
    as one clean message (the name is written into the row as an older version left it)."""
    delete_budget(eng, "Team", actor=ADMIN)
    with pytest.raises(BudgetError, match="control characters"):
        set_budget(eng, name="Ops\r\nBcc: x@evil.test", amount_usd=100, actor=ADMIN)
    set_budget(eng, name="Ops", amount_usd=100, thresholds="50", forecast_alert=False, actor=ADMIN)
    with eng.begin() as conn:
        conn.execute(text("UPDATE budget SET name = :n"), {"n": "Ops\r\nBcc: x@evil.test"})
    controller, sink = smtp_server()
    try:
        config = NotifyConfig(
            smtp_host="127.0.0.1", smtp_port=controller.port, smtp_tls="none",
            email_to=("lead@example.test",), retries=0,
        )  # fmt: skip
        result = check_alerts(eng, AS_OF, notify=config, actor=ADMIN)
        assert result.notified == 1 and [d.ok for d in result.deliveries] == [True]
        (envelope,) = sink.messages
        assert envelope.rcpt_tos == ["lead@example.test"]
        msg = message_from_bytes(envelope.content, policy=email_policy)
        assert msg["Bcc"] is None and msg["Subject"] == "Costdesk: 1 alert — Ops Bcc: x@evil.test"
        assert [json.loads(e.deliveries) for e in list_events(eng)] == [{"email": "sent"}]
    finally:
        controller.stop()


def test_cli_check_with_a_hung_webhook_finishes_and_mails(sqlite_url: str, eng: Engine) -> None:
    drip = Dripper(interval_s=1.0).start()
    controller, sink = smtp_server()
    env = {
        **os.environ,
        "COSTDESK_WEBHOOK_URL": drip.url,
        "COSTDESK_SLACK_WEBHOOK_URL": "",
        "COSTDESK_SMTP_HOST": "127.0.0.1",
        "COSTDESK_SMTP_PORT": str(controller.port),
        "COSTDESK_SMTP_TLS": "none",
        "COSTDESK_ALERT_EMAIL_TO": "a@x.test",
        "COSTDESK_NOTIFY_TIMEOUT_S": "1.5",
        "COSTDESK_NOTIFY_DEADLINE_S": "2",
    }
    args = ["alerts", "check", "--notify", "--as-of", "2026-03-10T12:00:00Z", "--json"]
    try:
        out = subprocess.run(
            [sys.executable, "cli.py", *args, "--db", sqlite_url],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert out.returncode == 1, out.stderr  # an alert fires
        deliveries = {d["channel"]: d for d in json.loads(out.stdout)["deliveries"]}
        assert not deliveries["webhook"]["ok"] and deliveries["email"]["ok"]
        assert len(sink.messages) == 1
        assert "without TLS" in out.stderr and "SECRET" not in out.stdout + out.stderr
    finally:
        drip.stop()
        controller.stop()
