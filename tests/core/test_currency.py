"""Display currency: the rate in force on a day, exact conversion, refused codes and rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.currency import (
    CurrencyError,
    FxRate,
    MissingRate,
    conversion_on,
    money_text,
    parse_currency,
    parse_rate,
    rate_on,
)

RATES = [
    FxRate("EUR", Decimal("0.90"), date(2026, 1, 1)),
    FxRate("EUR", Decimal("0.95"), date(2026, 1, 15)),
    FxRate("GBP", Decimal("0.80"), date(2026, 1, 10)),
]


def test_a_day_between_two_rates_uses_the_earlier_one() -> None:
    assert rate_on(RATES, "EUR", date(2026, 1, 10)).per_usd == Decimal("0.90")
    assert rate_on(RATES, "EUR", date(2026, 1, 1)).per_usd == Decimal("0.90")  # its own day
    assert rate_on(RATES, "EUR", date(2026, 1, 15)).per_usd == Decimal("0.95")
    assert rate_on(RATES, "EUR", date(2027, 3, 1)).per_usd == Decimal("0.95")


def test_conversion_is_exact_and_states_its_rate_and_date() -> None:
    conv = conversion_on(RATES, "EUR", date(2026, 1, 20))
    # $1,234.5678 x 0.95 = 1,172.83941 EUR, kept exact.
    assert conv.amount(Decimal("1234.5678")) == Decimal("1172.839410")
    assert conv.note == "1 USD = 0.95 EUR (rate of 2026-01-15)"
    assert money_text(conv.amount(Decimal("1234.5678")), "EUR") == "1,172.84 EUR"


def test_a_missing_rate_is_an_error_naming_the_currency_and_day() -> None:
    with pytest.raises(MissingRate, match=r"no EUR rate dated on or before 2025-12-31"):
        conversion_on(RATES, "EUR", date(2025, 12, 31))
    with pytest.raises(MissingRate, match="no JPY rate"):
        rate_on(RATES, "JPY", date(2026, 6, 1))


def test_usd_needs_no_rate() -> None:
    conv = conversion_on([], "USD", date(2026, 1, 1))
    assert not conv.converted and conv.amount(Decimal("1.5")) == Decimal("1.5") and conv.note == ""
    assert money_text(Decimal("1234.565")) == "$1,234.57"
    assert money_text(Decimal("-0.5")) == "-$0.50"


@pytest.mark.parametrize("text", ["eur", " EUR ", "Eur"])
def test_codes_are_three_letters_in_any_case(text: str) -> None:
    assert parse_currency(text) == "EUR"


@pytest.mark.parametrize("text", ["", "EURO", "E1R", "€", "ÉUR", None])
def test_other_codes_are_refused(text: object) -> None:
    with pytest.raises(CurrencyError, match="three-letter code"):
        parse_currency(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("0", "above zero"), ("-1", "above zero"), ("abc", "number"), ("NaN", "number"),
     ("0,92", "number"), ("1e8", "at most"), ("0.12345678901", "decimals")],
)  # fmt: skip
def test_unusable_rates_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(CurrencyError, match=reason):
        parse_rate(text)


def test_rates_keep_their_digits() -> None:
    assert parse_rate("0.920") == Decimal("0.92")
    assert FxRate("JPY", parse_rate("150"), date(2026, 1, 1)).text == "150"
