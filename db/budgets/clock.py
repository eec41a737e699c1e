"""Instants and calendar days of budgets: stored aware UTC, months in the budget's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def as_utc(when: datetime) -> datetime:
    """An aware UTC datetime (how instants are stored); naive input is taken as UTC."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, aware UTC."""
    return datetime.now(UTC)


def local_today(timezone: str, as_of: datetime) -> date:
    """The calendar day in `timezone` at the instant `as_of` (naive means UTC)."""
    return as_utc(as_of).astimezone(ZoneInfo(timezone)).date()


def as_of_for(day: date, now: datetime | None = None) -> datetime:
    """The instant a page evaluates for a picked day: now for today (or later), else its end."""
    now = as_utc(now) if now else utcnow()
    if day >= now.date():
        return now
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) - timedelta(
        microseconds=1
    )
