"""Migrations fill new tables with their own frozen copies of today's rules: 0023 the cost of
failure and the latency percentiles, 0025 the routing rollup by model, 0026 the feature rollup
by model, 0027 the weekly routing rollup by model, 0029 the routing rollups by project. They
must give exactly what today's rebuild gives from the same rollups, or an upgraded database
would show other figures than a new one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from core.stats import LATENCY_EDGES_MS
from db.ingest.rollups import (
    ROLLUP_TABLES,
    TABLES,
    derive_from_daily,
    derive_routing,
    derive_weeks,
    rebuild_latency,
    rebuild_retries,
)
from db.migrations import m0023_small_rollups as m0023
from db.migrations import m0025_routing_by_model as m0025
from db.migrations import m0026_feature_by_model as m0026
from db.migrations import m0027_routing_by_week as m0027
from db.migrations import m0029_routing_by_project as m0029

DAY = date(2025, 6, 1)
# Each example writes and rolls back a transaction on the function's engine (both databases).
FILLS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATUSES = [200, 201, 400, 404, 429, 500, 503]

rollup_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.integers(0, 2).map(lambda n: DAY + timedelta(days=n)),
            "provider": st.sampled_from(["openai", "anthropic"]),
            "model_id": st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
            "model": st.just("m"),
            "project": st.sampled_from(["", "search"]),
            "feature": st.sampled_from(["", "chat", "plan"]),
            "batch": st.booleans(),
            "status": st.sampled_from(STATUSES),
            "key_label": st.sampled_from(["", "k"]),
            "requests": st.integers(1, 50),
            "cost_pusd": st.integers(0, 10**15),
        }
    ),
    max_size=40,
)
latency_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.integers(0, 2).map(lambda n: DAY + timedelta(days=n)),
            "model_id": st.sampled_from(["gpt-4o", "gpt-4o-mini", "o3"]),
            "bucket": st.integers(0, len(LATENCY_EDGES_MS) - 1),
            "count": st.integers(1, 10**6),
        }
    ),
    max_size=60,
)


def _unique(rows: list[dict], sums: tuple[str, ...]) -> list[dict]:
    """The first row of each key (rows whose values other than `sums` are the same)."""
    kept: dict[tuple, dict] = {}
    for row in rows:
        kept.setdefault(tuple((k, row[k]) for k in sorted(row) if k not in sums), row)
    return list(kept.values())


def _read(conn: Connection, name: str) -> list[tuple]:
    columns = ", ".join(c.name for c in ROLLUP_TABLES[name].columns)
    rows = conn.execute(text(f"SELECT {columns} FROM {name}")).all()
    return sorted(tuple(str(v) if isinstance(v, date) else v for v in r) for r in rows)


def _today_then_frozen(
    engine: Engine,
    stored: dict[str, list[dict]],
    derive: Callable[[Connection], object],
    fill: Callable[[Connection], object],
    tables: tuple[str, ...],
) -> tuple[dict[str, list[tuple]], dict[str, list[tuple]]]:
    """The rows of `tables` as today's `derive` makes them from the `stored` rows, then as a
    step's frozen `fill` makes them again from the same rows (in a transaction rolled back)."""
    with engine.connect() as conn, conn.begin() as transaction:
        for name, rows in stored.items():
            if rows:
                conn.execute(TABLES[name].insert(), rows)
        derive(conn)
        today = {name: _read(conn, name) for name in tables}
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        fill(conn)
        frozen = {name: _read(conn, name) for name in tables}
        transaction.rollback()
    return today, frozen


@FILLS
@given(daily=rollup_rows, latency=latency_rows)
def test_the_migrations_fills_equal_todays_rebuild(
    engine: Engine, daily: list[dict], latency: list[dict]
) -> None:
    daily = _unique(daily, ("requests", "cost_pusd"))
    latency = _unique(latency, ("count",))
    today, frozen = _today_then_frozen(
        engine,
        {"daily_rollup": daily, "latency_daily": latency},
        lambda conn: (rebuild_retries(conn), rebuild_latency(conn)),
        lambda conn: (conn.exec_driver_sql(m0023.FILL_RETRIES), m0023._fill_latency(conn)),
        ("retry_daily", "latency_quantiles"),
    )
    assert len(today["latency_quantiles"]) == len({(r["day"], r["model_id"]) for r in latency})
    assert frozen == today


# What a routing rollup row holds past its key (sums and extremes), drawn alike for both tables.
ROUTING_VALUES = {
    "requests": st.integers(1, 50),
    "input_tokens": st.integers(0, 10**9),
    "cost_pusd": st.integers(0, 10**15),
    "in_min": st.integers(0, 5000),
    "in_max": st.integers(0, 5000),
    "out_min": st.integers(0, 900),
    "out_max": st.integers(0, 900),
}
routing_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.integers(0, 2).map(lambda n: DAY + timedelta(days=n)),
            "model_id": st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
            "project": st.sampled_from(["", "search"]),
            "feature": st.sampled_from(["", "chat"]),
            "status": st.sampled_from([200, 429]),
            "batch": st.booleans(),
            "in_bucket": st.integers(0, 3),
            "out_bucket": st.integers(0, 2),
            **ROUTING_VALUES,
        }
    ),
    max_size=40,
)


@FILLS
@given(routing=routing_rows)
def test_the_routing_by_model_fill_equals_todays_derivation(
    engine: Engine, routing: list[dict]
) -> None:
    """0025 fills `routing_model_daily` with its own SQL; today's derivation must agree on
    every column (sums summed, extremes kept as extremes)."""
    routing = _unique(routing, tuple(ROUTING_VALUES))
    today, frozen = _today_then_frozen(
        engine, {"routing_rollup": routing}, derive_routing, m0025.apply_fill,
        ("routing_model_daily",),
    )  # fmt: skip
    keys = {(r["day"], r["model_id"], r["batch"], r["in_bucket"], r["out_bucket"]) for r in routing}
    assert len(today["routing_model_daily"]) == len(keys)
    assert frozen == today


@FILLS
@given(routing=routing_rows)
def test_the_routing_by_project_fills_equal_todays_derivation(
    engine: Engine, routing: list[dict]
) -> None:
    """0029 fills `routing_project_daily` and `routing_project_weekly` with its own SQL;
    today's derivation must agree on every column, a day's row summing its features and a
    week's (Monday to Sunday: 1 June 2025 is a Sunday, 2 June a Monday) summing its days."""
    routing = _unique(routing, tuple(ROUTING_VALUES))
    tables = ("routing_project_daily", "routing_project_weekly")
    today, frozen = _today_then_frozen(
        engine, {"routing_rollup": routing}, derive_routing, m0029.apply_fill, tables
    )
    group = ("model_id", "project", "status", "batch", "in_bucket", "out_bucket")
    days = {(r["day"], *(r[k] for k in group)) for r in routing}
    weeks = {(r["day"] - timedelta(days=r["day"].weekday()), *(r[k] for k in group))
             for r in routing}  # fmt: skip
    assert (len(today[tables[0]]), len(today[tables[1]])) == (len(days), len(weeks))
    assert frozen == today


@FILLS
@given(daily=rollup_rows)
def test_the_feature_by_model_fill_equals_todays_derivation(
    engine: Engine, daily: list[dict]
) -> None:
    """0026 fills `feature_model_daily` with its own SQL; today's derivation from the daily
    rollup (`core.rollups.COARSER`) must agree on every column."""
    daily = _unique(daily, ("requests", "cost_pusd"))
    today, frozen = _today_then_frozen(
        engine, {"daily_rollup": daily}, derive_from_daily, m0026.apply_fill,
        ("feature_model_daily",),
    )  # fmt: skip
    keys = {(r["day"], r["model_id"], r["project"], r["feature"]) for r in daily}
    assert len(today["feature_model_daily"]) == len(keys)
    assert frozen == today


by_model_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day": st.integers(0, 20).map(lambda n: DAY + timedelta(days=n)),  # from a Sunday
            "model_id": st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
            "batch": st.booleans(),
            "in_bucket": st.integers(0, 2),
            "out_bucket": st.integers(0, 1),
            **ROUTING_VALUES,
        }
    ),
    max_size=40,
)


@FILLS
@given(by_model=by_model_rows)
def test_the_routing_by_week_fill_equals_todays_derivation(
    engine: Engine, by_model: list[dict]
) -> None:
    """0027 fills `routing_model_weekly` with its own SQL; today's derivation must agree on
    every column, and both start each week on the Monday on or before its days."""
    by_model = _unique(by_model, tuple(ROUTING_VALUES))
    today, frozen = _today_then_frozen(
        engine, {"routing_model_daily": by_model}, derive_weeks, m0027.apply_fill,
        ("routing_model_weekly",),
    )  # fmt: skip
    assert frozen == today
    mondays = {
        (r["model_id"], r["batch"], r["in_bucket"], r["out_bucket"],
         str(r["day"] - timedelta(days=r["day"].weekday())))
        for r in by_model
    }  # fmt: skip
    names = [c.name for c in ROLLUP_TABLES["routing_model_weekly"].columns]
    at = [names.index(k) for k in ("model_id", "batch", "in_bucket", "out_bucket", "week")]
    found = {tuple(row[i] for i in at) for row in today["routing_model_weekly"]}
    assert {(m, bool(b), i, o, str(w)[:10]) for m, b, i, o, w in found} == mondays
