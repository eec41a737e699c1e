"""Recorded exchange rates, the display currency and digest claims, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update

from core.currency import CurrencyError, MissingRate
from db import digests
from db.fx import (
    conversion,
    delete_rate,
    display_currency,
    list_rates,
    rate_notes,
    record_rate,
    set_display_currency,
)
from tests.actors import ADMIN


def test_rates_are_stored_exactly_and_a_day_between_two_uses_the_earlier(engine: Engine) -> None:
    record_rate(
        engine, currency="eur", per_usd="0.9123456789", effective_on=date(2026, 1, 1), actor=ADMIN
    )
    record_rate(
        engine,
        currency="EUR",
        per_usd="0.95",
        effective_on=date(2026, 1, 15),
        note="ECB",
        actor=ADMIN,
    )
    assert [r.per_usd for r in list_rates(engine, "EUR")] == [
        Decimal("0.9123456789"),
        Decimal("0.95"),
    ]
    conv = conversion(engine, date(2026, 1, 14), "EUR")
    # $100 x 0.9123456789 = 91.23456789 EUR, at the rate of 1 January.
    assert conv.amount(Decimal(100)) == Decimal("91.23456789")
    assert conv.note == "1 USD = 0.9123456789 EUR (rate of 2026-01-01)"
    assert rate_notes(engine)[("EUR", date(2026, 1, 15))] == "ECB"


def test_recording_a_day_again_replaces_its_rate(engine: Engine) -> None:
    record_rate(engine, currency="GBP", per_usd="0.8", effective_on=date(2026, 1, 1), actor=ADMIN)
    record_rate(engine, currency="GBP", per_usd="0.79", effective_on=date(2026, 1, 1), actor=ADMIN)
    assert [(r.per_usd, r.day) for r in list_rates(engine)] == [(Decimal("0.79"), date(2026, 1, 1))]
    assert delete_rate(engine, currency="gbp", effective_on=date(2026, 1, 1), actor=ADMIN)
    assert not delete_rate(engine, currency="GBP", effective_on=date(2026, 1, 1), actor=ADMIN)
    assert list_rates(engine) == []


def test_bad_rates_are_refused_and_nothing_is_stored(engine: Engine) -> None:
    for currency, rate in (("EUR", "-1"), ("EURO", "0.9"), ("USD", "1")):
        with pytest.raises(CurrencyError):
            record_rate(
                engine, currency=currency, per_usd=rate, effective_on=date(2026, 1, 1), actor=ADMIN
            )
    assert list_rates(engine) == []


def test_the_display_currency_defaults_to_usd_and_a_missing_rate_says_so(engine: Engine) -> None:
    assert display_currency(engine) == "USD"
    assert not conversion(engine, date(2026, 1, 1)).converted
    assert set_display_currency(engine, currency="jpy", actor=ADMIN) == "JPY"
    set_display_currency(engine, currency="EUR", actor=ADMIN)
    assert display_currency(engine) == "EUR"
    with pytest.raises(MissingRate, match="no EUR rate dated on or before 2026-01-01"):
        conversion(engine, date(2026, 1, 1))


def test_a_digest_period_is_claimed_once_per_channel(engine: Engine) -> None:
    assert digests.claim(engine, "2026-W02", "slack")
    assert not digests.claim(engine, "2026-W02", "slack")  # another run is sending it
    assert digests.claim(engine, "2026-W02", "email")
    digests.release(engine, "2026-W02", "email")  # failed: the next run tries again
    assert digests.claim(engine, "2026-W02", "email")
    digests.mark_sent(engine, "2026-W02", "slack")
    assert set(digests.sent_channels(engine, "2026-W02")) == {"slack"}
    digests.release(engine, "2026-W02", "slack")  # a sent digest is never given back
    assert not digests.claim(engine, "2026-W02", "slack")


def test_a_claim_that_never_finished_is_taken_over_after_a_while(engine: Engine) -> None:
    assert digests.claim(engine, "2026-01", "webhook")
    stale = digests._now() - digests.STALE_CLAIM * 2
    with engine.begin() as conn:
        conn.execute(update(digests.TABLE).values(claimed_at=stale))
    assert digests.claim(engine, "2026-01", "webhook")
