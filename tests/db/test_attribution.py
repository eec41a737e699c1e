"""Spend per cost centre on a small log, by hand, on SQLite and PostgreSQL: every dimension,
records without a value as the unallocated line, rollups vs raw rows, a month's chargeback."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from core.attribution import UNALLOCATED
from core.currency import Conversion
from db.ingest import ingest_records
from db.queries import attribution
from db.queries.attribution import UnknownDimension, data_span, month_chargeback, spend_by
from db.queries.common import UsageFilters
from tests.actors import ADMIN

JAN = (date(2026, 1, 1), date(2026, 1, 31))
# Prices: gpt-4o $2.50 in / $10 out per million tokens; gpt-4o-mini $0.15 / $0.60.
LOG = [
    # 1,000 x 2.5/M + 100 x 10/M = $0.0035
    ("r1", "2026-01-05", "gpt-4o", 1000, 100, "search", "chat", "ann"),
    # 2,000 x 0.15/M + 500 x 0.6/M = $0.0006; names no project, feature or user
    ("r2", "2026-01-06", "gpt-4o-mini", 2000, 500, "", "", ""),
    # a dated snapshot of gpt-4o: 4,000 x 2.5/M + 200 x 10/M = $0.012
    ("r3", "2026-01-07", "gpt-4o-2024-08-06", 4000, 200, "search", "", "bob"),
    # 10,000 x 0.15/M + 1,000 x 0.6/M = $0.0021, on the period's last day
    ("r4", "2026-01-31", "gpt-4o-mini", 10000, 1000, "support", "chat", "ann"),
    # not in the price book: $0, and no provider
    ("r5", "2026-01-10", "acme-llm", 50, 5, "search", "", ""),
    # outside January: December (the month before) and February
    ("r6", "2025-12-31", "gpt-4o", 1000, 100, "search", "chat", "ann"),
    ("r7", "2026-02-01", "gpt-4o", 1000, 100, "legal", "chat", "cy"),
]


def load(engine: Engine) -> None:
    records = [
        {"timestamp": f"{day}T23:59:59Z" if rid == "r4" else f"{day}T08:00:00Z",
         "request_id": rid, "model": model, "input_tokens": tin, "output_tokens": tout,
         "project": project, "feature": feature, "user": user}
        for rid, day, model, tin, tout, project, feature, user in LOG
    ]  # fmt: skip
    report = ingest_records(engine, records, source="test", file_name="log.jsonl", actor=ADMIN)
    assert report.accepted == len(LOG)


def costs(engine: Engine, dims: list[str]) -> dict[tuple[str, ...], tuple[int, Decimal]]:
    """{values: (requests, USD)} for January."""
    frame = spend_by(engine, dims, *JAN)
    return {
        tuple(row[d] for d in dims): (int(row["requests"]), Decimal(int(row["cost_pusd"])) / 10**12)
        for _, row in frame.iterrows()
    }


@pytest.mark.parametrize(
    ("dim", "expected"),
    [
        # gpt-4o: r1 + r3 = 0.0035 + 0.012; gpt-4o-mini: r2 + r4 = 0.0006 + 0.0021
        ("model", {("gpt-4o",): (2, Decimal("0.0155")), ("gpt-4o-mini",): (2, Decimal("0.0027")),
                   ("acme-llm",): (1, Decimal(0))}),
        # every priced request is OpenAI's; the unknown model has no provider
        ("provider", {("openai",): (4, Decimal("0.0182")), ("",): (1, Decimal(0))}),
        # search: r1 + r3 + r5; support: r4; none: r2
        ("project", {("search",): (3, Decimal("0.0155")), ("support",): (1, Decimal("0.0021")),
                     ("",): (1, Decimal("0.0006"))}),
        # chat: r1 + r4 = 0.0056; none: r2 + r3 + r5 = 0.0126
        ("feature", {("chat",): (2, Decimal("0.0056")), ("",): (3, Decimal("0.0126"))}),
        # ann: r1 + r4 = 0.0056; bob: r3; none: r2 + r5
        ("user", {("ann",): (2, Decimal("0.0056")), ("bob",): (1, Decimal("0.012")),
                  ("",): (2, Decimal("0.0006"))}),
    ],
)  # fmt: skip
def test_each_dimension_splits_january_by_hand(engine: Engine, dim: str, expected: dict) -> None:
    load(engine)
    assert costs(engine, [dim]) == expected


def test_two_dimensions_from_raw_rows_when_one_is_not_in_the_rollup(engine: Engine) -> None:
    load(engine)
    assert attribution.source_for(["project", "user"]).name == "request_log"
    assert attribution.source_for(["project", "feature"]).name == "feature_daily"
    assert attribution.source_for(["feature", "team"]).name == "daily_rollup"
    assert attribution.source_for(["project", "team"]).name == "usage_daily"
    assert attribution.source_for(["provider", "model"]).name == "model_daily"
    assert attribution.source_for(["model"], UsageFilters(projects=("a",))).name == "usage_daily"
    assert attribution.source_for(["model"], UsageFilters(tags=("a",))).name == "daily_rollup"
    assert costs(engine, ["project", "user"]) == {
        ("search", "ann"): (1, Decimal("0.0035")),
        ("search", "bob"): (1, Decimal("0.012")),
        ("search", ""): (1, Decimal(0)),
        ("support", "ann"): (1, Decimal("0.0021")),
        ("", ""): (1, Decimal("0.0006")),
    }


def test_rollups_and_raw_rows_agree(engine: Engine) -> None:
    load(engine)
    raw = attribution.SOURCES[-1]
    for dim in ("model", "provider", "project", "feature", "key", "team", "environment"):
        from_rollup = spend_by(engine, [dim], *JAN)
        keys = [raw.table.c[raw.columns[dim]].label(dim)]
        query = select(*keys, *raw.measures()).where(*raw.period(*JAN)).group_by(*keys)
        with engine.connect() as conn:
            rows = {r[0]: (int(r[1]), int(r[-2]) * 10**6 + int(r[-1])) for r in conn.execute(query)}
        assert {r[dim]: (r["requests"], r["cost_pusd"]) for _, r in from_rollup.iterrows()} == rows


def test_unknown_and_repeated_dimensions_are_refused() -> None:
    with pytest.raises(UnknownDimension, match="unknown dimension 'squad'"):
        attribution.dimensions(["squad"])
    with pytest.raises(UnknownDimension, match="named twice"):
        attribution.dimensions(["model", "Model"])
    with pytest.raises(UnknownDimension, match="at least one"):
        attribution.dimensions([])


def test_a_month_s_chargeback_by_project(engine: Engine) -> None:
    load(engine)
    assert data_span(engine) == (date(2025, 12, 31), date(2026, 2, 1))
    cb = month_chargeback(engine, "project", date(2026, 1, 1), Conversion())
    t = cb.table.set_index("centre")
    assert list(t.index) == ["search", "support", UNALLOCATED]
    # search: $0.0155 of $0.0182 this month; December's search spend was r6 = $0.0035.
    assert t.loc["search", "spend"] == Decimal("0.0155")
    assert t.loc["search", "previous"] == Decimal("0.0035")
    assert t.loc["search", "share"] == Decimal("0.851648")  # 0.0155 / 0.0182 = 0.85164835...
    # Cents: 0.0155 -> 0.02, 0.0021 -> 0.00, 0.0006 -> 0.00; total 0.0182 -> 0.02.
    assert t["spend_cents"].tolist() == [Decimal("0.02"), Decimal("0.00"), Decimal("0.00")]
    assert (cb.total_cents, cb.previous_total_cents) == (Decimal("0.02"), Decimal("0.00"))
