"""Who spent it: spend per cost centre, unallocated spend, month-on-month change, exact cents.

A cost centre is a value of a dimension (a model, a project, a user...). Records that name no
value for the dimension are *unallocated*: they form their own line, labelled `UNALLOCATED`,
and are never spread over the other centres. Money arrives as exact integer pico-dollars and
stays exact; it is rounded only to show it, and then with `allocate_cents`, so the rounded
lines of a table always add up to its rounded total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext

import pandas as pd

from core.costs import picos_to_usd
from core.currency import Conversion
from core.plans import CENT, cents

UNALLOCATED = "unallocated"
KEY_SEPARATOR = " / "
COUNT_COLUMNS = ("requests", "input_tokens", "cached_input_tokens", "output_tokens")
# Enough digits for any sum of stored costs, converted at any accepted rate, to stay exact.
EXACT_PREC = 120


def split_tags(tags: str) -> list[str]:
    """The tags of a stored tag set (`core.logs.rules.accept_tags`: sorted, comma-joined)."""
    return tags.split(",") if tags else []


def tag_value(tags: str, key: str) -> str:
    """The value of tag `key` (`key=value`) in a stored tag set; "" when it has none."""
    prefix = f"{key}="
    return next((t[len(prefix) :] for t in split_tags(tags) if t.startswith(prefix)), "")


def by_tag(frame: pd.DataFrame, dims: Sequence[str], column: str, key: str | None) -> pd.DataFrame:
    """Rows keyed by tag set as rows keyed by tag: each row once per tag it holds ("" when it
    has none), or by the value of tag `key` (one per row, "" without it). Sums stay exact."""
    values = frame[column].map(
        (lambda t: split_tags(t) or [""]) if key is None else (lambda t: [tag_value(t, key)])
    )
    exploded = frame.assign(**{column: values}).explode(column, ignore_index=True)
    keys = list(dims)
    sums = [c for c in frame.columns if c not in keys]
    if exploded.empty:
        return exploded
    grouped = exploded.groupby(keys, sort=True, dropna=False)[sums]
    return grouped.agg(lambda s: sum(int(v) for v in s)).reset_index()


def label(value: object) -> str:
    """A cost centre's name as shown: its value, or `UNALLOCATED` when the record named none."""
    text = "" if value is None else str(value)
    return text if text else UNALLOCATED


def allocate_cents(amounts: Sequence[Decimal]) -> tuple[list[Decimal], Decimal]:
    """Each amount to the cent so that the lines add up to the total rounded half up.

    Every line is first rounded down; the cents still missing from the rounded total go one
    each to the lines that lost the most (largest remainder; ties to the earlier line). So each
    line is within one cent of its exact value and the lines sum to the rounded total.
    """
    with localcontext(prec=EXACT_PREC):
        total = cents(sum(amounts, Decimal(0)))
        lines = [a.quantize(CENT, rounding=ROUND_FLOOR) for a in amounts]
        missing = int((total - sum(lines, Decimal(0))) / CENT)
        order = sorted(range(len(amounts)), key=lambda i: (lines[i] - amounts[i], i))
        for i in order[:missing]:
            lines[i] += CENT
    return lines, total


def _key_columns(frame: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """`key` (the values joined), `unallocated` (any value missing), labels per dimension."""
    out = frame.copy()
    for dim in dims:
        out[dim] = out[dim].map(label) if len(out) else pd.Series(dtype=object)
    missing = frame[list(dims)].eq("").any(axis=1) if len(frame) else pd.Series(dtype=bool)
    out["unallocated"] = missing.astype(bool)
    joined = out[list(dims)].astype(str).agg(KEY_SEPARATOR.join, axis=1) if len(out) else []
    out["key"] = pd.Series(joined, index=out.index, dtype=object)
    return out


def ordered(frame: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Lines with `key` and `unallocated`, most expensive first, unallocated lines last."""
    out = _key_columns(frame, dims)
    out["_cost"] = out["cost_pusd"].map(int) if len(out) else pd.Series(dtype=object)
    out = out.sort_values(["unallocated", "_cost", "key"], ascending=[True, False, True])
    return out.drop(columns="_cost").reset_index(drop=True)


@dataclass(frozen=True)
class Lines:
    """Spend per cost centre: exact figures, their cents (which add up) and the totals."""

    table: pd.DataFrame  # dims..., key, unallocated, counts, cost_usd, cost_cents[, cost, ...]
    dims: tuple[str, ...]
    total_usd: Decimal
    total_cents: Decimal
    conversion: Conversion
    total: Decimal  # in the conversion's currency
    total_converted_cents: Decimal

    @property
    def converted(self) -> bool:
        """True when figures are shown in a currency other than USD."""
        return self.conversion.converted


def lines(frame: pd.DataFrame, dims: Sequence[str], conversion: Conversion) -> Lines:
    """Spend per cost centre from a frame of sums (`dims`, counts, `cost_pusd`), ordered."""
    table = ordered(frame, dims)
    exact = [picos_to_usd(p) for p in table["cost_pusd"]]
    rounded, total_cents = allocate_cents(exact)
    table["cost_usd"] = pd.Series(exact, index=table.index, dtype=object)
    table["cost_cents"] = pd.Series(rounded, index=table.index, dtype=object)
    with localcontext(prec=EXACT_PREC):
        total_usd = sum(exact, Decimal(0))
        converted = [conversion.amount(v) for v in exact]
        converted_cents, converted_total_cents = allocate_cents(converted)
        total = conversion.amount(total_usd)
    table["cost"] = pd.Series(converted, index=table.index, dtype=object)
    table["cost_converted_cents"] = pd.Series(converted_cents, index=table.index, dtype=object)
    for column in COUNT_COLUMNS:
        table[column] = table[column].map(int) if len(table) else pd.Series(dtype=object)
    return Lines(
        table, tuple(dims), total_usd, total_cents, conversion, total, converted_total_cents
    )


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a share of `whole` (0..1, exact to 1e-6), None when `whole` is zero."""
    if not whole:
        return None
    with localcontext(prec=EXACT_PREC):
        return (part / whole).quantize(Decimal("0.000001"))


@dataclass(frozen=True)
class Chargeback:
    """One month's spend per cost centre, its share, and the change against the month before.

    Figures are in the conversion's currency (USD unless converted), at one rate for both
    months, so the change is the change in spend, not in the rate.
    """

    dimension: str
    month: date  # the month's first day
    previous_month: date
    conversion: Conversion
    table: pd.DataFrame  # centre, unallocated, spend/previous exact and cents, share, change
    total: Decimal
    previous_total: Decimal
    total_cents: Decimal
    previous_total_cents: Decimal

    @property
    def change_cents(self) -> Decimal:
        """The month's shown total minus the month before's."""
        return self.total_cents - self.previous_total_cents

    @property
    def change_share(self) -> Decimal | None:
        """The change as a share of the month before (None when it had no spend)."""
        return share(self.total - self.previous_total, self.previous_total)


def _merged(current: pd.DataFrame, previous: pd.DataFrame, dim: str) -> pd.DataFrame:
    """One row per centre seen in either month, with both months' pico-dollars."""
    now = current[[dim, "cost_pusd"]]
    before = previous[[dim, "cost_pusd"]].rename(columns={"cost_pusd": "previous_pusd"})
    merged = now.merge(before, on=dim, how="outer")
    for column in ("cost_pusd", "previous_pusd"):
        merged[column] = merged[column].map(lambda v: 0 if pd.isna(v) else int(v)).astype(object)
    return merged


def _converted(picos: pd.Series, conversion: Conversion) -> list[Decimal]:
    """Exact amounts in the conversion's currency."""
    with localcontext(prec=EXACT_PREC):
        return [conversion.amount(picos_to_usd(p)) for p in picos]


def chargeback(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    dim: str,
    months: tuple[date, date],
    conversion: Conversion,
) -> Chargeback:
    """Spend per centre of `dim` in `current`, its share and the change from `previous`.

    `months` holds the first days of the month shown and of the month before.
    """
    table = ordered(_merged(current, previous, dim), [dim])
    spend = _converted(table["cost_pusd"], conversion)
    before = _converted(table["previous_pusd"], conversion)
    spend_cents, total_cents = allocate_cents(spend)
    before_cents, previous_total_cents = allocate_cents(before)
    with localcontext(prec=EXACT_PREC):
        total, previous_total = sum(spend, Decimal(0)), sum(before, Decimal(0))
        columns = {
            "spend": spend,
            "spend_cents": spend_cents,
            "previous": before,
            "previous_cents": before_cents,
            # Differences of the shown cents, so every row and the total add up on paper.
            "change_cents": [a - b for a, b in zip(spend_cents, before_cents, strict=True)],
            "change_share": [share(a - b, b) for a, b in zip(spend, before, strict=True)],
            "share": [share(a, total) for a in spend],
        }
    for name, values in columns.items():
        table[name] = pd.Series(values, index=table.index, dtype=object)
    table = table.rename(columns={dim: "centre"}).drop(columns=["key"])
    return Chargeback(
        dim, *months, conversion, table, total, previous_total, total_cents, previous_total_cents
    )
