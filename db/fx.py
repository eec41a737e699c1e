"""Exchange rates users record, and the display currency (tables of migration 0018).

A rate is stored as exact decimal text (`core.currency.parse_rate` checks it first); one rate
per currency and day, so recording a day again replaces its rate. The display currency is a
named display preference, USD until someone picks another. Write functions take keyword
arguments only, so the acting user can be added as one more.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, UniqueConstraint, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from core.access import Actor, require
from core.currency import (
    BASE,
    Conversion,
    CurrencyError,
    FxRate,
    conversion_on,
    parse_currency,
    parse_rate,
)
from db.audit import record

DISPLAY_CURRENCY = "display_currency"
MAX_NOTE = 200


class FxRateRow(SQLModel, table=True):
    """1 USD buys `per_usd` units of `currency` from `effective_on` on."""

    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("currency", "effective_on", name="uq_fx_rate_day"),)
    currency: str
    effective_on: date
    per_usd: str  # exact decimal text
    note: str = ""
    created_at: datetime
    id: int | None = Field(default=None, primary_key=True)


class DisplayPreference(SQLModel, table=True):
    """A named display choice (the display currency)."""

    __tablename__ = "display_preference"
    name: str = Field(primary_key=True)
    value: str
    updated_at: datetime


RATES = FxRateRow.__table__
PREFERENCES = DisplayPreference.__table__


def _insert(engine: Engine) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def _day(value: Any) -> date:
    """A date from a DATE column (SQLite may hand back its ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def record_rate(
    engine: Engine,
    *,
    currency: str,
    per_usd: object,
    effective_on: date,
    note: str = "",
    actor: Actor,
) -> FxRate:
    """Store a rate (replacing that currency's rate of the same day); CurrencyError if unusable."""
    require(actor, "settings.write")
    code = parse_currency(currency)
    if code == BASE:
        raise CurrencyError(f"{BASE} is the currency money is stored in: it needs no rate")
    rate = parse_rate(per_usd)
    clean_note = " ".join(str(note).split())[:MAX_NOTE]
    values = {
        "currency": code,
        "effective_on": effective_on,
        "per_usd": f"{rate:f}",
        "note": clean_note,
        "created_at": datetime.now(UTC),
    }
    stmt = _insert(engine)(RATES).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["currency", "effective_on"],
        set_={k: stmt.excluded[k] for k in ("per_usd", "note", "created_at")},
    )
    with engine.begin() as conn:
        before = _rate_row(conn, code, effective_on)
        conn.execute(stmt)
        record(conn, actor, "fx_rate.save", f"{code} {effective_on}", before, values)
    return FxRate(code, rate, effective_on)


def delete_rate(engine: Engine, *, currency: str, effective_on: date, actor: Actor) -> bool:
    """Forget one recorded rate; False when there was none."""
    require(actor, "settings.write")
    stmt = delete(RATES).where(
        RATES.c.currency == parse_currency(currency), RATES.c.effective_on == effective_on
    )
    with engine.begin() as conn:
        before = _rate_row(conn, parse_currency(currency), effective_on)
        gone = conn.execute(stmt).rowcount > 0
        if gone:
            record(conn, actor, "fx_rate.delete", f"{currency} {effective_on}", before)
        return gone


def _rate_row(conn: Any, code: str, effective_on: date) -> dict[str, Any] | None:
    """The stored rate of `code` on `effective_on` (for the audit trail), if any."""
    found = conn.execute(
        select(RATES.c.per_usd, RATES.c.note).where(
            RATES.c.currency == code, RATES.c.effective_on == effective_on
        )
    ).first()
    return None if found is None else {"per_usd": found[0], "note": found[1]}


def list_rates(engine: Engine, currency: str | None = None) -> list[FxRate]:
    """Recorded rates, by currency then date (of one currency when given)."""
    stmt = select(RATES.c.currency, RATES.c.per_usd, RATES.c.effective_on)
    if currency is not None:
        stmt = stmt.where(RATES.c.currency == currency)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(RATES.c.currency, RATES.c.effective_on)).all()
    return [FxRate(code, Decimal(text), _day(day)) for code, text, day in rows]


def rate_notes(engine: Engine) -> dict[tuple[str, date], str]:
    """The note recorded with each rate, by (currency, date)."""
    stmt = select(RATES.c.currency, RATES.c.effective_on, RATES.c.note)
    with engine.connect() as conn:
        return {(code, _day(day)): note for code, day, note in conn.execute(stmt)}


def display_currency(engine: Engine) -> str:
    """The currency figures are shown in (USD until another is chosen)."""
    stmt = select(PREFERENCES.c.value).where(PREFERENCES.c.name == DISPLAY_CURRENCY)
    with engine.connect() as conn:
        value = conn.execute(stmt).scalar()
    return value or BASE


def set_display_currency(engine: Engine, *, currency: str, actor: Actor) -> str:
    """Choose the display currency; returns its code (CurrencyError when it is not one)."""
    require(actor, "settings.write")
    code = parse_currency(currency)
    values = {"name": DISPLAY_CURRENCY, "value": code, "updated_at": datetime.now(UTC)}
    stmt = _insert(engine)(PREFERENCES).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"value": code, "updated_at": values["updated_at"]}
    )
    with engine.begin() as conn:
        before = conn.execute(
            select(PREFERENCES.c.value).where(PREFERENCES.c.name == DISPLAY_CURRENCY)
        ).scalar()
        conn.execute(stmt)
        record(conn, actor, "display_currency.set", code, before or BASE, code)
    return code


def conversion(engine: Engine, day: date, currency: str | None = None) -> Conversion:
    """Figures in `currency` (default: the display currency) at the rate in force on `day`.

    Raises `core.currency.MissingRate` when no rate of that currency is dated on or before it.
    """
    code = parse_currency(currency) if currency else display_currency(engine)
    return conversion_on(list_rates(engine, code), code, day)
