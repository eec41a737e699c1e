"""The alert check with real loopback receivers: each event is sent once, failures retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from db.budgets import deliveries_of, list_events, save_rule, set_budget
from db.engine import make_engine
from db.models import DailyRollup
from integrations.alerting import check_alerts
from integrations.notify import NotifyConfig
from tests.integrations.servers import Receiver

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def eng(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    set_budget(engine, name="Team", amount_usd=100, thresholds="50,90", forecast_alert=False)
    save_rule(engine, kind="cost_spike", params={}, enabled=False)
    with engine.begin() as conn:  # $60 spent on Mar 1
        conn.execute(
            insert(DailyRollup.__table__),
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
        first = check_alerts(eng, AS_OF, notify=_config(hook, slack))
        assert len(first.firing) == 1 and first.notified == 1
        assert [d.channel for d in first.deliveries] == ["webhook", "slack"]
        second = check_alerts(eng, AS_OF, notify=_config(hook, slack))
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
        first = check_alerts(eng, AS_OF, notify=_config(down, retries=1))
        assert first.notified == 0 and not first.deliveries[0].ok
        (event,) = list_events(eng)
        assert deliveries_of(eng, event.id) == {"webhook": "failed: HTTP 500"}
        assert event.notified_at is None
        second = check_alerts(eng, AS_OF, notify=_config(down, retries=1))
        assert second.notified == 1 and second.new_event_ids == []
        assert deliveries_of(eng, event.id) == {"webhook": "sent"}
        assert len(down.received) == 1
        assert "SECRET" not in json.dumps([e.deliveries for e in list_events(eng)])
    finally:
        down.stop()


def test_new_threshold_is_sent_alone(eng: Engine) -> None:
    hook = Receiver().start()
    try:
        check_alerts(eng, AS_OF, notify=_config(hook))
        with eng.begin() as conn:  # +$35 -> 95 % crosses 90
            conn.execute(
                insert(DailyRollup.__table__),
                [{"day": date(2026, 3, 2), "model": "m", "cost_pusd": 35 * 10**12}],
            )
        later = check_alerts(eng, AS_OF.replace(day=11), notify=_config(hook))
        assert len(later.firing) == 2 and len(later.new_event_ids) == 1 and later.notified == 1
        assert [a["threshold"] for a in hook.received[1]["json"]["alerts"]] == ["90"]
    finally:
        hook.stop()


def test_check_without_channels_still_stores(eng: Engine) -> None:
    result = check_alerts(eng, AS_OF, notify=NotifyConfig())
    assert len(result.new_event_ids) == 1 and result.notified == 0
    assert result.firing[0].value == Decimal("60.00")
