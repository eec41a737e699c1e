"""One date-range widget for every page: presets (7 d, 30 d, this month, last month) or custom
days, bounded by the data's first and last day, opened from `?from=...&to=...` links.

    span = date_range("usage", first_day, last_day)
    report = load(span.start, span.end)

A link such as `/usage?from=2026-01-14&to=2026-01-16` opens the page on exactly those days
(clamped to the data); while a range other than the default is shown, the URL carries it, so
the address can be shared. Presets end on the last day with data, so they never show an empty
stretch after the logs stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from core.periods import (
    CUSTOM,
    LAST_30,
    PRESET_LABELS,
    matching_preset,
    preset_span,
    previous_period,
    span_text,
)

FROM, TO = "from", "to"


@dataclass(frozen=True)
class DateRange:
    """The days a page shows (inclusive, UTC) and the period they are compared with."""

    start: date
    end: date
    preset: str
    previous: tuple[date, date]

    @property
    def text(self) -> str:
        """'1 – 30 Nov 2026'."""
        return span_text(self.start, self.end)

    @property
    def previous_text(self) -> str:
        """The compared period, in words."""
        return span_text(*self.previous)


def _clamp(day: date, first: date, last: date) -> date:
    return min(max(day, first), last)


def _from_link(first: date, last: date) -> tuple[date, date] | None:
    """The (start, end) a `?from=&to=` link asks for, clamped to the data; None without one."""
    try:
        start = date.fromisoformat(st.query_params.get(FROM, ""))
        end = date.fromisoformat(st.query_params.get(TO, "") or st.query_params.get(FROM, ""))
    except ValueError:
        return None
    start, end = sorted((_clamp(start, first, last), _clamp(end, first, last)))
    return start, end


def _picked(value: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """(start, end) from a range date_input, which holds one date while a range is picked."""
    days = [d for d in value if isinstance(d, date)] if isinstance(value, (tuple, list)) else []
    if isinstance(value, date):
        days = [value]
    return (days[0], days[-1]) if days else fallback


def _on_preset(prefix: str, last: date) -> None:
    """Switching to Custom starts the day picker on the range shown until now."""
    keys = _keys(prefix)
    if st.session_state.get(keys["preset"]) == CUSTOM:
        st.session_state[keys["dates"]] = st.session_state.get(keys["span"], (last, last))


def _keys(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}_{name}" for name in ("preset", "dates", "span")}


def _start_state(prefix: str, first: date, last: date, default: str) -> None:
    """On a fresh visit, the preset (and days) a link asks for, else the default preset."""
    keys = _keys(prefix)
    if keys["preset"] in st.session_state:
        return
    linked = _from_link(first, last)
    if linked is None:
        st.session_state[keys["preset"]] = default
        return
    preset = matching_preset(*linked, last)
    st.session_state[keys["preset"]] = preset
    if preset == CUSTOM:
        st.session_state[keys["dates"]] = linked


def _sync_link(preset: str, start: date, end: date, default: str) -> None:
    """Keep `?from=&to=` in the address while a range other than the default is shown."""
    if preset == default:
        for name in (FROM, TO):
            if name in st.query_params:
                del st.query_params[name]
        return
    st.query_params[FROM], st.query_params[TO] = start.isoformat(), end.isoformat()


def date_range(
    prefix: str,
    first_day: date,
    last_day: date,
    *,
    default: str = LAST_30,
    label: str = "Dates (UTC)",
) -> DateRange:
    """Preset buttons and, for Custom, a day picker; returns the range and the one before it.

    Widget keys start with `prefix` (`usage_preset`, `usage_dates`); presets end on `last_day`.
    """
    keys = _keys(prefix)
    _start_state(prefix, first_day, last_day, default)
    preset = st.segmented_control(
        label,
        list(PRESET_LABELS),
        format_func=PRESET_LABELS.get,
        required=True,
        key=keys["preset"],
        on_change=_on_preset,
        args=(prefix, last_day),
        help=f"Days in UTC. Presets end on {span_text(last_day, last_day)}, the last day with "
        "data.",
    )
    start, end = preset_span(preset, last_day)
    if preset == CUSTOM:
        held = _picked(st.session_state.get(keys["dates"]), (start, end))
        st.session_state[keys["dates"]] = tuple(_clamp(d, first_day, last_day) for d in held)
        picked = st.date_input(
            "From – to (UTC)",
            min_value=first_day,
            max_value=last_day,
            key=keys["dates"],
            format="YYYY-MM-DD",
            width=280,
        )
        start, end = _picked(picked, (start, end))
    st.session_state[keys["span"]] = (start, end)
    _sync_link(preset, start, end, default)
    return DateRange(start, end, preset, previous_period(start, end))
