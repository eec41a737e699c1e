"""core.logs.rules: each field rule's definition, and its column form held to it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.costs import MAX_TOKENS
from core.logs import rules
from core.logs.rules import Epoch, Refused

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01T12:00:00+02:00", datetime(2025, 6, 1, 10, tzinfo=UTC)),
        ("2025-06-01t10:00:00z", datetime(2025, 6, 1, 10, tzinfo=UTC)),
        ("2025-06-01 10:00:00.123456789Z", datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-05-31T23:30:00-05:00", datetime(2025, 6, 1, 4, 30, tzinfo=UTC)),
        (Epoch(1741570283), datetime(2025, 3, 10, 1, 31, 23, tzinfo=UTC)),
    ],
)
def test_timestamps_with_zone_are_stored_in_utc(value: object, expected: datetime) -> None:
    assert rules.accept_timestamp(value) == _micros(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-06-01T10:00:00", "no time zone"),
        ("2025-06-01", "no time zone"),
        ("20250601T100000Z", "not an RFC 3339"),
        ("2025-13-01T10:00:00Z", "not a valid date"),
        ("0001-01-01T00:00:00+01:00", "not a valid date"),  # before year 1 in UTC
        (1748772000, "RFC 3339 string"),
        (None, "required"),
        (Epoch(-5), "Unix seconds"),
    ],
)
def test_bad_timestamps_are_refused_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        rules.accept_timestamp(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "boolean"),
        (80.5, "whole number"),
        (-1, "negative"),
        ("80", "whole number"),
        ([1], "whole number"),
        (MAX_TOKENS + 1, "the most one request can carry"),
        (10_000_000_000_000, "the most one request can carry"),
        (1e308, "the most one request can carry"),
        (None, "required"),
    ],
)
def test_counts_are_whole_numbers_up_to_the_bound(value: object, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        rules.accept_count(value)


def test_integral_floats_are_counts_and_the_bound_is_inclusive() -> None:
    assert rules.accept_count(3.0) == 3
    assert rules.accept_count(MAX_TOKENS) == MAX_TOKENS


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [(None, "", 200), ("success", "", 200), ("error", "rate_limit_exceeded", 429),
     (None, "server_error", 500), (503, "server_error", 503), ("429", "", 429)],
)  # fmt: skip
def test_status_words_and_codes(status: object, error_type: str, code: int) -> None:
    assert rules.accept_status(status, error_type) == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gpt-4o\t", "gpt-4o"), (" search ", "search"), ("a\x00b\x1b[31m", "ab[31m"), (42, "42")],
)
def test_labels_lose_control_characters_and_surrounding_spaces(
    value: object, expected: str
) -> None:
    assert rules.accept_label(value) == expected


@pytest.mark.parametrize("value", [1e300, math.inf, math.nan, -1, "fast"])
def test_latency_must_be_a_plausible_number_of_milliseconds(value: object) -> None:
    with pytest.raises(Refused):
        rules.accept_latency(value)


def test_reasons_quote_values_short_and_without_secrets() -> None:
    with pytest.raises(Refused) as err:
        rules.accept_count("sk-proj-" + "a" * 40)
    assert "sk-proj" not in str(err.value) and len(str(err.value)) < 100


# --- every column form agrees with its scalar definition --------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=MAX_TOKENS + 5),
    st.sampled_from([MAX_TOKENS, MAX_TOKENS + 1, 2**63, -(2**63) - 1, 10**10, 599, 600, 99]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 3.0, 80.5, 1e15, -0.0, 12.5, 13.5]),
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            " x",
            "x ",
            "a\tb",
            "gpt-4o",
            "y" * 201,
            "ok",
            "error",
            "200",
            "\x00",
            "MAX_TOKENS",
            "Length",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)


def _scalar(accept, values, *args):
    out = []
    for row in zip(values, *args, strict=True):
        try:
            out.append(("ok", accept(*row)))
        except Refused as refused:
            out.append(("refused", str(refused)))
    return out


def _column(result) -> list:
    values, ok, reasons = result
    return [
        ("ok", v) if accepted else ("refused", reasons[i])
        for i, (v, accepted) in enumerate(zip(values.tolist(), ok.tolist(), strict=True))
    ]


def _same(column, scalar) -> None:
    assert len(column) == len(scalar)
    for got, expected in zip(column, scalar, strict=True):
        assert got[0] == expected[0]
        if got[0] == "ok":
            assert got[1] == expected[1]
        else:
            assert got[1] == expected[1]


COLUMNS = [
    (rules.count_column, rules.accept_count),
    (lambda v: rules.optional_count_column(v, True), rules.accept_zero_count),
    (lambda v: rules.optional_count_column(v, False), rules.accept_optional_count),
    (rules.label_column, rules.accept_label),
    (lambda v: rules.label_column(v, True), rules.accept_required_label),
    (rules.flag_column, rules.accept_flag),
    (rules.latency_column, rules.accept_latency),
    (rules.finish_column, rules.accept_finish),
]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(SCALARS, max_size=12), plain=st.booleans())
def test_column_forms_equal_their_definitions(values: list, plain: bool) -> None:
    if plain:  # also columns the fast paths take: all ints, all short strings
        values = [v for v in values if type(v) is int] or [v for v in values if type(v) is str]
    for column, accept in COLUMNS:
        _same(_column(column(values)), _scalar(accept, values))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(SCALARS, max_size=10),
    kinds=st.lists(st.sampled_from(["", "rate_limit", "server_error"]), max_size=10),
)
@example(values=["\u00b2", "\u0663\u0660\u0660"], kinds=[])  # digits that are not ASCII digits
def test_status_column_equals_its_definition(values: list, kinds: list) -> None:
    kinds = (kinds + [""] * len(values))[: len(values)]
    _same(_column(rules.status_column(values, kinds)), _scalar(rules.accept_status, values, kinds))


@st.composite
def timestamps(draw: st.DrawFn) -> object:
    """Every spelling the rule accepts, and near misses it must refuse."""
    year = draw(st.sampled_from([1, 1969, 2024, 2025, 9999]))
    month, day = draw(st.integers(1, 13)), draw(st.integers(1, 31))
    hour, minute, second = (
        draw(st.integers(0, 24)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 60)),
    )
    sep = draw(st.sampled_from(["T", "t", " ", ""]))
    fraction = draw(st.sampled_from(["", ".", ".5", ".123456", ".123456789", ".1234567890"]))
    zone = draw(
        st.sampled_from(
            ["Z", "z", "+02:00", "-05:30", "+14:00", "", "+2:00", "-00:00", "+0200", "-0530", "+02"]
        )
    )
    text = (
        f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"
    )
    return draw(st.sampled_from([text, text, None, 20250601, "", "x" * 25, Epoch(1.5e9)]))


@settings(max_examples=400, deadline=None)
@given(values=st.lists(timestamps(), max_size=10))
def test_timestamp_column_equals_its_definition(values: list) -> None:
    _same(_column(rules.timestamp_column(values)), _scalar(rules.accept_timestamp, values))


def test_the_fast_paths_are_taken_for_plain_columns() -> None:
    values, ok, reasons = rules.timestamp_column(["2025-06-01T10:00:00Z"] * 3)
    assert ok.all() and not reasons and values.dtype == np.int64
    assert rules.count_column([1, 2, None])[1].tolist() == [True, True, False]
