"""Cost centres: cents that add up (a property), unallocated lines, shares and month changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from core.attribution import UNALLOCATED, allocate_cents, chargeback, label, lines
from core.currency import Conversion, FxRate

PICO = 10**12
CENT = Decimal("0.01")


def _usd(picos: int) -> Decimal:
    return Decimal(picos) / PICO


def test_three_thirds_of_a_dollar_add_up_to_the_dollar() -> None:
    # 0.3333... x 3: each rounds to 0.33 alone (0.99); the missing cent goes to the first line.
    third = Decimal(1) / 3
    lines_, total = allocate_cents([third, third, third])
    assert total == Decimal("1.00")
    assert lines_ == [Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]


def test_the_cent_goes_to_the_line_that_lost_the_most() -> None:
    # 0.004 + 0.004 + 0.007 = 0.015 -> 0.02; floors are 0, 0, 0; remainders .4, .4, .7 cent:
    # the two missing cents go to 0.007 (largest) and then the earlier 0.004.
    got, total = allocate_cents([Decimal("0.004"), Decimal("0.004"), Decimal("0.007")])
    assert total == Decimal("0.02")
    assert got == [Decimal("0.01"), Decimal("0.00"), Decimal("0.01")]


def test_a_half_cent_total_rounds_up() -> None:
    assert allocate_cents([Decimal("0.005")]) == ([Decimal("0.01")], Decimal("0.01"))
    assert allocate_cents([]) == ([], Decimal("0.00"))


@given(st.lists(st.integers(min_value=0, max_value=2 * 10**18), max_size=40))
def test_rounded_lines_always_add_up_to_the_rounded_total(picos: list[int]) -> None:
    exact = [_usd(p) for p in picos]
    rounded, total = allocate_cents(exact)
    assert sum(rounded, Decimal(0)) == total
    # The total is the exact sum rounded half up to the cent.
    assert total == (Decimal(sum(picos)) / PICO).quantize(CENT, rounding="ROUND_HALF_UP")
    for line, value in zip(rounded, exact, strict=True):
        assert abs(line - value) < CENT
        assert line == line.quantize(CENT)


@given(
    st.lists(st.integers(min_value=0, max_value=10**16), max_size=25),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(50_000), places=4),
)
def test_converted_lines_add_up_too(picos: list[int], rate: Decimal) -> None:
    conversion = Conversion("EUR", FxRate("EUR", rate, date(2026, 1, 1)))
    exact = [conversion.amount(_usd(p)) for p in picos]
    rounded, total = allocate_cents(exact)
    assert sum(rounded, Decimal(0)) == total
    assert all(abs(line - value) < CENT for line, value in zip(rounded, exact, strict=True))


def _frame(rows: list[tuple], dims: list[str]) -> pd.DataFrame:
    counts = ["requests", "unpriced_requests", "input_tokens", "cached_input_tokens"]
    columns = [*dims, *counts, "output_tokens", "cost_pusd"]
    return pd.DataFrame(rows, columns=columns).astype({"cost_pusd": object})


def test_records_without_a_value_are_one_unallocated_line_listed_last() -> None:
    frame = _frame(
        [("", 2, 0, 100, 0, 10, 9 * PICO), ("b", 1, 0, 10, 0, 1, PICO), ("a", 1, 0, 5, 0, 1, 3 * PICO)],
        ["project"],
    )  # fmt: skip
    got = lines(frame, ["project"], Conversion())
    assert got.table["key"].tolist() == ["a", "b", UNALLOCATED]
    assert got.table["unallocated"].tolist() == [False, False, True]
    assert got.table["cost_cents"].tolist() == [Decimal("3.00"), Decimal("1.00"), Decimal("9.00")]
    assert got.total_usd == Decimal(13)  # 9 + 1 + 3, nothing spread
    assert label("") == UNALLOCATED and label("x") == "x"


def test_several_dimensions_join_their_values() -> None:
    frame = _frame([("search", "", 1, 0, 1, 0, 1, PICO)], ["project", "user"])
    got = lines(frame, ["project", "user"], Conversion())
    assert got.table["key"].tolist() == [f"search / {UNALLOCATED}"]
    assert bool(got.table["unallocated"].iloc[0]) is True


def test_chargeback_shares_and_changes_by_hand() -> None:
    # January: search $6, support $3, unallocated $1 (total $10); December: search $4, legal $2.
    current = _frame(
        [("search", 1, 0, 0, 0, 0, 6 * PICO), ("support", 1, 0, 0, 0, 0, 3 * PICO),
         ("", 1, 0, 0, 0, 0, PICO)], ["project"])  # fmt: skip
    previous = _frame(
        [("search", 1, 0, 0, 0, 0, 4 * PICO), ("legal", 1, 0, 0, 0, 0, 2 * PICO)], ["project"]
    )
    cb = chargeback(
        current, previous, "project", (date(2026, 1, 1), date(2025, 12, 1)), Conversion()
    )
    t = cb.table.set_index("centre")
    assert list(t.index) == ["search", "support", "legal", UNALLOCATED]
    assert t.loc["search", "share"] == Decimal("0.6")  # 6 / 10
    assert t.loc["search", "change_cents"] == Decimal("2.00")  # 6 - 4
    assert t.loc["search", "change_share"] == Decimal("0.5")  # 2 / 4
    assert t.loc["support", "change_share"] is None  # nothing the month before
    assert t.loc["legal", "change_share"] == Decimal(-1)  # 0 - 2 over 2
    assert (cb.total_cents, cb.previous_total_cents, cb.change_cents) == (
        Decimal("10.00"), Decimal("6.00"), Decimal("4.00"))  # fmt: skip
    assert cb.change_share == Decimal("0.666667")  # 4 / 6


def test_chargeback_in_another_currency_uses_one_rate_for_both_months() -> None:
    current = _frame([("a", 1, 0, 0, 0, 0, 10 * PICO)], ["project"])
    previous = _frame([("a", 1, 0, 0, 0, 0, 5 * PICO)], ["project"])
    rate = FxRate("EUR", Decimal("0.9"), date(2026, 1, 31))
    cb = chargeback(
        current, previous, "project", (date(2026, 1, 1), date(2025, 12, 1)), Conversion("EUR", rate)
    )
    # $10 x 0.9 = 9.00 EUR; $5 x 0.9 = 4.50 EUR; change 4.50 EUR, +100 %.
    assert (cb.total_cents, cb.previous_total_cents) == (Decimal("9.00"), Decimal("4.50"))
    assert cb.change_share == Decimal(1)
