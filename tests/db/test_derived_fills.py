"""The 0023 migration fills the cost of failure and the latency percentiles with its own frozen
copies of those rules; they must give exactly what today's rebuild gives from the same rollups,
or an upgraded database would show other figures than a new one."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from core.stats import LATENCY_EDGES_MS
from db.ingest.rollups import TABLES, rebuild_latency, rebuild_retries
from db.migrations import m0023_small_rollups as m0023

DAY = date(2025, 6, 1)
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
    columns = ", ".join(c.name for c in TABLES[name].columns)
    rows = conn.execute(text(f"SELECT {columns} FROM {name}")).all()
    return sorted(tuple(str(v) if isinstance(v, date) else v for v in r) for r in rows)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(daily=rollup_rows, latency=latency_rows)
def test_the_migrations_fills_equal_todays_rebuild(
    engine: Engine, daily: list[dict], latency: list[dict]
) -> None:
    daily = _unique(daily, ("requests", "cost_pusd"))
    latency = _unique(latency, ("count",))
    with engine.connect() as conn, conn.begin() as transaction:
        if daily:
            conn.execute(TABLES["daily_rollup"].insert(), daily)
        if latency:
            conn.execute(TABLES["latency_daily"].insert(), latency)
        rebuild_retries(conn)
        rebuild_latency(conn)
        today = {name: _read(conn, name) for name in ("retry_daily", "latency_quantiles")}
        assert len(today["latency_quantiles"]) == len({(r["day"], r["model_id"]) for r in latency})
        conn.execute(text("DELETE FROM retry_daily"))
        conn.execute(text("DELETE FROM latency_quantiles"))
        conn.exec_driver_sql(m0023.FILL_RETRIES)
        m0023._fill_latency(conn)
        frozen = {name: _read(conn, name) for name in ("retry_daily", "latency_quantiles")}
        transaction.rollback()
    assert frozen == today
