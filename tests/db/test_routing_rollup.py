"""The routing rollup's token-size grid: one bucket rule in numpy, in SQL and in its migration."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    Table,
    create_engine,
    insert,
    literal,
    select,
    text,
)

from core.pricing import PriceBook, Rates
from core.rollups import INPUT_GRID, OUTPUT_GRID, ROUTING_COLUMNS, ROUTING_KEY, token_bucket
from core.routing import INPUT_CUTS, OUTPUT_CUTS
from db import migrations
from db.ingest.rollups import bucket_clause, rebuild
from db.migrations import STEPS, migrate
from db.migrations.m0014_routing_rollup import INPUT_GRID as FROZEN_INPUT
from db.migrations.m0014_routing_rollup import OUTPUT_GRID as FROZEN_OUTPUT
from db.migrations.m0014_routing_rollup import bucket_sql
from db.migrations.m0019_dimensions import NEW_COLUMNS as LATER
from db.models import RequestLog
from tests.rows import with_keys

TOKENS = st.lists(
    st.one_of(
        st.integers(0, 100_000_000),
        st.sampled_from([e + d for e in (*INPUT_GRID, *OUTPUT_GRID) for d in (-1, 0, 1)]),
    ),
    min_size=1,
    max_size=40,
)


def test_the_grid_holds_every_default_cut_tier_edge_and_common_window() -> None:
    assert set(INPUT_CUTS) <= set(INPUT_GRID) and set(OUTPUT_CUTS) <= set(OUTPUT_GRID)
    assert (FROZEN_INPUT, FROZEN_OUTPUT) == (INPUT_GRID, OUTPUT_GRID)  # today's is the migration's
    rates = [r for r in PriceBook.from_snapshot().table(date(2025, 9, 1)) if isinstance(r, Rates)]
    assert {t.above_tokens for r in rates for t in r.tiers} <= set(INPUT_GRID)
    windows = {r.context_window for r in rates if r.context_window}
    assert {128000, 200000, 1_000_000, 1_048_576} <= windows & set(INPUT_GRID)
    # max_input_tokens=2000 and min_input_tokens=2000 (above 1,999) both land on an edge.
    assert {1999, 2000, 0} <= set(INPUT_GRID) and list(INPUT_GRID) == sorted(set(INPUT_GRID))


def test_a_bucket_holds_counts_above_the_edge_below_it_up_to_its_own() -> None:
    # INPUT_GRID starts 0, 99, 100, 199: 0 -> bucket 0; 1..99 -> 1; 100 -> 2; 101..199 -> 3.
    assert token_bucket(np.array([0, 1, 99, 100, 101, 199]), INPUT_GRID).tolist() == [
        0, 1, 1, 2, 3, 3,
    ]  # fmt: skip
    assert token_bucket(np.array([10**8]), INPUT_GRID).tolist() == [len(INPUT_GRID)]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=TOKENS)
def test_sql_buckets_equal_the_numpy_rule(engine: Engine, values: list[int]) -> None:
    for grid in (INPUT_GRID, OUTPUT_GRID):
        expected = token_bucket(np.array(values, dtype=np.int64), grid).tolist()
        clauses = [bucket_clause(literal(v, BigInteger), grid) for v in values]
        frozen = ", ".join(bucket_sql(f"CAST({v} AS BIGINT)", grid) for v in values)
        with engine.connect() as conn:
            assert list(conn.execute(select(*clauses)).one()) == expected
            assert list(conn.execute(text(f"SELECT {frozen}")).one()) == expected


def _rows() -> list[dict]:
    """Request rows on two days: sizes on and beside edges, two models, a failed call; row
    i + 6 shares row i's day, model and both buckets with other sizes."""
    sizes = [(0, 0), (1999, 40), (2000, 50), (2001, 51), (2000, 999), (150000, 4000)]
    sizes += [(0, 0), (1501, 41), (2000, 50), (2047, 99), (2000, 501), (131073, 4000)]
    rows = []
    for i, (inp, out) in enumerate(sizes):
        day = date(2025, 6, 1 + i % 2)
        rows.append(
            {
                "ts": datetime(day.year, day.month, day.day, 9, i, tzinfo=UTC),
                "day": day,
                "source": "old",
                "request_id": f"o{i}",
                "model": "gpt-4o-2024-08-06" if i % 3 else "gpt-4o-mini",
                "model_id": "gpt-4o" if i % 3 else "gpt-4o-mini",
                "input_tokens": inp,
                "output_tokens": out,
                "cached_input_tokens": inp // 4,
                "status": 429 if inp == 0 else 200,
                "priced": inp != 0,
                "cost_pusd": 1_000_000 * (i + 1),
                "output_bucket": 0,
            }
        )
    return rows


def _routing(engine: Engine) -> list[tuple]:
    """The routing rollup's rows, its key first then the rest (`ROUTING_COLUMNS`)."""
    columns = ", ".join((*ROUTING_KEY, *ROUTING_COLUMNS))
    with engine.connect() as conn:
        return sorted(
            tuple(map(str, r)) for r in conn.execute(text(f"SELECT {columns} FROM routing_rollup"))
        )


def test_the_migration_fills_the_routing_rollup_as_a_rebuild_does(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(db_url)
    names = [step.name for step in STEPS]
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "STEPS", STEPS[: names.index("0014_routing_rollup")])
        migrate(engine)
    # the rows as 0013 stored them: without the columns later steps add (0019's dimensions)
    table = RequestLog.__table__
    then = Table("request_log", MetaData(), *(
        Column(c.name, c.type, default=c.default) for c in table.columns if c.name not in LATER
    ))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(then), with_keys(_rows()))
    assert "0014_routing_rollup" in migrate(engine)
    filled = _routing(engine)
    assert len(filled) == 6  # rows i and i + 6 share one
    # June 2, gpt-4o, 1,501..1,999 in and 1..49 out: requests 1 and 7, 1,999 + 1,501 tokens in,
    # 499 + 375 cached, 40 + 41 out, cost (1 + 1) + (7 + 1) million pico-dollars.
    [row] = [r for r in filled if r[:2] == ("2025-06-02", "gpt-4o") and r[7] == "1"]
    assert row[8:] == (
        "2",
        "0",
        "3500",
        "874",
        "0",
        "81",
        "0",
        "10000000",
        "1501",
        "1999",
        "40",
        "41",
    )
    with engine.begin() as conn:
        rebuild(conn)
    assert _routing(engine) == filled
    engine.dispose()
