"""Date ranges the pages offer (last 7 or 30 days, this or last month) and the period before one.

Pure calendar rules, shared by every page with a date filter (`ui.dates.date_range`): a range
is inclusive at both ends and anchored at a given day (usually the last day with data).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

LAST_7, LAST_30, THIS_MONTH, LAST_MONTH, CUSTOM = "7d", "30d", "month", "last_month", "custom"
PRESET_LABELS = {
    LAST_7: "7 d",
    LAST_30: "30 d",
    THIS_MONTH: "This month",
    LAST_MONTH: "Last month",
    CUSTOM: "Custom",
}


def month_end(day: date) -> date:
    """The last calendar day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def preset_span(preset: str, anchor: date) -> tuple[date, date]:
    """The inclusive (start, end) of a preset ending at `anchor` (custom: just the anchor)."""
    if preset == LAST_7:
        return anchor - timedelta(days=6), anchor
    if preset == LAST_30:
        return anchor - timedelta(days=29), anchor
    if preset == THIS_MONTH:
        return anchor.replace(day=1), anchor
    if preset == LAST_MONTH:
        last = anchor.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    return anchor, anchor


def matching_preset(start: date, end: date, anchor: date) -> str:
    """The preset whose span at `anchor` is exactly (start, end), else custom."""
    for preset in (LAST_7, LAST_30, THIS_MONTH, LAST_MONTH):
        if preset_span(preset, anchor) == (start, end):
            return preset
    return CUSTOM


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period a range is compared with: the same days of the month before for a range
    inside one month that starts on the 1st (a whole month: the whole month before), else the
    same number of days just before it."""
    if start.day == 1 and (start.year, start.month) == (end.year, end.month):
        last = start - timedelta(days=1)
        first = last.replace(day=1)
        if end == month_end(start):
            return first, last
        return first, min(first + (end - start), last)
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def span_text(start: date, end: date) -> str:
    """'14 Jan 2026' or '14 – 16 Jan 2026' or '28 Dec 2025 – 3 Jan 2026'."""
    if start == end:
        return f"{start.day} {start:%b %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} – {end.day} {end:%b %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"
