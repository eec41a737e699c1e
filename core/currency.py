"""Display currency: money is stored in USD and shown converted at a rate the user recorded.

A rate says how many units of a currency one US dollar buys on and after its date. The rate
in force on a day is the latest one dated on or before it; a day before every recorded rate
has none, which is an error naming the currency and the day (never a silent 1.0). Amounts
convert exactly in `Decimal`; rounding happens only when they are shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext

from core.plans import cents

BASE = "USD"
MAX_RATE = Decimal(10_000_000)  # units per USD: above any currency in use today
RATE_PLACES = 10
_CODE = re.compile(r"[A-Z]{3}")
SYMBOLS = {"USD": "$"}


class CurrencyError(ValueError):
    """A currency code or a rate that cannot be used; the message says why."""


class MissingRate(CurrencyError):
    """No rate of a currency is dated on or before a day."""

    def __init__(self, currency: str, day: date) -> None:
        super().__init__(
            f"no {currency} rate dated on or before {day.isoformat()}: record one "
            f"(Exchange rates page) or show figures in {BASE}"
        )
        self.currency = currency
        self.day = day


def parse_currency(text: object) -> str:
    """An ISO 4217 code such as EUR (case ignored), or CurrencyError."""
    code = str(text or "").strip().upper()
    if not _CODE.fullmatch(code):
        raise CurrencyError(f"a currency is a three-letter code like EUR, got {str(text)!r}")
    return code


def parse_rate(text: object) -> Decimal:
    """Units of a currency per USD: a positive number with at most ten decimals."""
    try:
        rate = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise CurrencyError(f"a rate is a number like 0.92, got {str(text)!r}") from None
    if not rate.is_finite():
        raise CurrencyError(f"a rate is a number like 0.92, got {str(text)!r}")
    if rate <= 0:
        raise CurrencyError(f"a rate must be above zero, got {str(text)!r}")
    if rate > MAX_RATE:
        raise CurrencyError(f"a rate must be at most {MAX_RATE:,} per USD, got {str(text)!r}")
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES)):
        raise CurrencyError(f"a rate has at most {RATE_PLACES} decimals, got {str(text)!r}")
    return rate.normalize()


@dataclass(frozen=True)
class FxRate:
    """One recorded rate: 1 USD buys `per_usd` units of `currency` from `day` on."""

    currency: str
    per_usd: Decimal
    day: date

    @property
    def text(self) -> str:
        """The rate as written, without float noise: 0.92, 150.5."""
        return f"{self.per_usd:f}"


def rate_on(rates: Iterable[FxRate], currency: str, day: date) -> FxRate:
    """The rate of `currency` in force on `day`: the latest dated on or before it."""
    found = [r for r in rates if r.currency == currency and r.day <= day]
    if not found:
        raise MissingRate(currency, day)
    return max(found, key=lambda r: r.day)


@dataclass(frozen=True)
class Conversion:
    """How USD figures are shown: as they are, or in another currency at one dated rate."""

    currency: str = BASE
    rate: FxRate | None = None

    @property
    def converted(self) -> bool:
        """True when figures are shown in another currency than USD."""
        return self.rate is not None

    def amount(self, usd: Decimal) -> Decimal:
        """`usd` in this currency, exact."""
        if self.rate is None:
            return usd
        with localcontext(prec=120):
            return usd * self.rate.per_usd

    def usd(self, amount: Decimal) -> Decimal:
        """`amount` of this currency in USD (the inverse of `amount`, to 120 digits)."""
        if self.rate is None:
            return amount
        with localcontext(prec=120):
            return amount / self.rate.per_usd

    @property
    def note(self) -> str:
        """The rate and its date, shown next to converted figures ("" for USD)."""
        if self.rate is None:
            return ""
        return f"1 USD = {self.rate.text} {self.currency} (rate of {self.rate.day.isoformat()})"


def conversion_on(rates: Iterable[FxRate], currency: str, day: date) -> Conversion:
    """Figures shown in `currency` at the rate in force on `day`; MissingRate when none is."""
    if currency == BASE:
        return Conversion()
    return Conversion(currency, rate_on(rates, currency, day))


def money_text(amount: Decimal, currency: str = BASE) -> str:
    """An amount to the cent with thousands separators: $1,234.57, -12.30 EUR."""
    rounded = cents(amount)
    sign = "-" if rounded < 0 else ""
    figure = f"{abs(rounded):,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{figure}" if symbol else f"{sign}{figure} {currency}"
