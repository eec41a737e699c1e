"""Date presets and the period a range is compared with, against hand-counted calendars."""

from __future__ import annotations

from datetime import date

import pytest

from core.periods import (
    CUSTOM,
    LAST_7,
    LAST_30,
    LAST_MONTH,
    THIS_MONTH,
    matching_preset,
    preset_span,
    previous_period,
    span_text,
)

D = date


@pytest.mark.parametrize(
    ("preset", "anchor", "span"),
    [
        (LAST_7, D(2026, 3, 3), (D(2026, 2, 25), D(2026, 3, 3))),  # 25..28 Feb + 1..3 Mar = 7
        (LAST_30, D(2026, 3, 3), (D(2026, 2, 2), D(2026, 3, 3))),  # 27 Feb days + 3 = 30
        (THIS_MONTH, D(2026, 11, 29), (D(2026, 11, 1), D(2026, 11, 29))),
        (LAST_MONTH, D(2026, 3, 15), (D(2026, 2, 1), D(2026, 2, 28))),
        (LAST_MONTH, D(2028, 3, 1), (D(2028, 2, 1), D(2028, 2, 29))),  # a leap year
        (LAST_MONTH, D(2026, 1, 10), (D(2025, 12, 1), D(2025, 12, 31))),
    ],
)
def test_presets_end_at_the_anchor(preset: str, anchor: date, span: tuple) -> None:
    assert preset_span(preset, anchor) == span
    assert matching_preset(*span, anchor) == preset


def test_a_range_no_preset_gives_is_custom() -> None:
    assert matching_preset(D(2026, 1, 14), D(2026, 1, 16), D(2026, 11, 29)) == CUSTOM


@pytest.mark.parametrize(
    ("start", "end", "before"),
    [
        # 30 days: the 30 days just before
        (D(2026, 10, 31), D(2026, 11, 29), (D(2026, 10, 1), D(2026, 10, 30))),
        # the month so far (1..29 Nov): the same days of October
        (D(2026, 11, 1), D(2026, 11, 29), (D(2026, 10, 1), D(2026, 10, 29))),
        # a whole month: the whole month before, whatever its length
        (D(2026, 3, 1), D(2026, 3, 31), (D(2026, 2, 1), D(2026, 2, 28))),
        # 1..30 March against February: February has only 28 days
        (D(2026, 3, 1), D(2026, 3, 30), (D(2026, 2, 1), D(2026, 2, 28))),
        # one day: the day before
        (D(2026, 1, 1), D(2026, 1, 1), (D(2025, 12, 1), D(2025, 12, 1))),
        (D(2026, 1, 14), D(2026, 1, 16), (D(2026, 1, 11), D(2026, 1, 13))),
    ],
)
def test_the_period_before(start: date, end: date, before: tuple) -> None:
    assert previous_period(start, end) == before


def test_spans_in_words() -> None:
    assert span_text(D(2026, 1, 14), D(2026, 1, 14)) == "14 Jan 2026"
    assert span_text(D(2026, 1, 14), D(2026, 1, 16)) == "14 – 16 Jan 2026"
    assert span_text(D(2026, 10, 31), D(2026, 11, 29)) == "31 Oct – 29 Nov 2026"
    assert span_text(D(2025, 12, 28), D(2026, 1, 3)) == "28 Dec 2025 – 3 Jan 2026"
