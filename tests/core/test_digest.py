"""Digest periods (the last complete week or month) and what the digest says."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from core.currency import Conversion, FxRate
from core.digest import (
    AlertLine,
    BudgetLine,
    Digest,
    Period,
    Ranked,
    Saving,
    digest_lines,
    digest_record,
    last_complete,
    top_centres,
)


@pytest.mark.parametrize(
    ("before", "start", "end", "label"),
    [
        (date(2026, 1, 14), date(2026, 1, 5), date(2026, 1, 11), "2026-W02"),  # a Wednesday
        (date(2026, 1, 12), date(2026, 1, 5), date(2026, 1, 11), "2026-W02"),  # a Monday
        (date(2026, 1, 11), date(2025, 12, 29), date(2026, 1, 4), "2026-W01"),  # a Sunday
    ],
)
def test_the_last_complete_week_ends_on_the_sunday_before(before, start, end, label) -> None:
    period = last_complete("week", before)
    assert (period.start, period.end, period.label, period.days) == (start, end, label, 7)


def test_the_last_complete_month_and_the_one_before() -> None:
    period = last_complete("month", date(2026, 3, 1))
    assert (period.start, period.end, period.label) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
        "2026-02",
    )
    assert last_complete("month", date(2026, 2, 28)).label == "2026-01"  # February is not over
    previous = period.previous()
    assert (previous.start, previous.end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert last_complete("week", date(2026, 1, 14)).previous().label == "2026-W01"


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="week, month"):
        last_complete("year", date(2026, 1, 1))


def test_top_centres_keep_the_unallocated_spend_as_its_own_line() -> None:
    frame = pd.DataFrame(
        {
            "user": ["ann", "", "bob", "cy"],
            "cost_pusd": [3 * 10**12, 5 * 10**12, 10**12, 2 * 10**12],
        }
    )
    got = top_centres(frame, "user", 2)
    assert got == [
        Ranked("ann", Decimal(3)),
        Ranked("cy", Decimal(2)),
        Ranked("unallocated", Decimal(5)),
    ]


def _digest(**extra) -> Digest:
    period = Period("week", date(2026, 1, 5), date(2026, 1, 11))
    return Digest(
        period=period,
        spend_usd=Decimal("123.456"),
        previous_usd=Decimal("100"),
        top={"model": [Ranked("gpt-4o", Decimal("100.006")), Ranked("<b>x</b>", Decimal("23.45"))]},
        budgets=[BudgetLine("Team", "all", Decimal(60), Decimal(100), Decimal("60.00"),
                            Decimal(120), (50,))],
        alerts=[AlertLine("budget", "all", "Team passed 50 %", datetime(2026, 1, 8, tzinfo=UTC))],
        saving=Saving("gpt-4o-mini", 2000, ("gpt-4o",), 40, Decimal("7.5"), Decimal("32.14")),
        **extra,
    )  # fmt: skip


def test_the_digest_text_by_hand() -> None:
    text = "\n".join(digest_lines(_digest()))
    # 123.456 - 100 = +23.456 -> +$23.46, a 23.456 % rise -> +23.5 %.
    assert "Spend: $123.46 (previous week $100.00; +$23.46, +23.5 %)" in text
    assert "Top models: gpt-4o $100.01, <b>x</b> $23.45" in text
    assert (
        "Team (all): $60.00 of $100.00 (60.00 %), month-end forecast $120.00; reached 50 %" in text
    )
    assert "Alerts this week: 1" in text and "Team passed 50 %" in text
    assert "would have saved $7.50 this week ($32.14 per 30-day month)" in text


def test_names_go_through_the_channel_s_escape() -> None:
    text = "\n".join(digest_lines(_digest(), escape=lambda s: s.replace("<", "&lt;")))
    assert "&lt;b>x&lt;/b>" in text


def test_converted_figures_state_the_rate_and_its_date() -> None:
    rate = FxRate("EUR", Decimal("0.9"), date(2026, 1, 2))
    d = _digest(conversion=Conversion("EUR", rate))
    lines = digest_lines(d)
    assert "Figures in EUR: 1 USD = 0.9 EUR (rate of 2026-01-02)" in lines
    assert lines[1].startswith("Spend: 111.11 EUR")  # 123.456 x 0.9 = 111.1104
    record = digest_record(d)
    assert (record["rate"], record["rate_date"], record["spend"]) == (
        "0.9",
        "2026-01-02",
        "111.1104",
    )
    assert record["spend_usd"] == "123.456" and record["change_usd"] == "23.456"
    assert record["top"]["model"][0] == {"key": "gpt-4o", "cost_usd": "100.006", "cost": "90.0054"}
