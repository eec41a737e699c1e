"""The hourly rollup the window rules read: counted at ingest as a rebuild and step 0028 count
it, and window series read through it equal to the request rows, whatever the period."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from core.stats import LATENCY_EDGES_MS, bucket_index
from db.budgets import window_series
from db.ingest import ingest_records
from db.ingest.rollups import rebuild
from db.migrations import m0028_traffic_hourly as m0028
from db.retention import prune
from tests.actors import ADMIN

EXAMPLES = itertools.count()


def _hourly(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT day, hour, latency_bucket, requests, errors, rate_limited "
                "FROM traffic_hourly ORDER BY day, hour, latency_bucket"
            )
        ).all()
    return [(str(d)[:10], h, b, n, e, r) for d, h, b, n, e, r in rows]


def _record(i: int, stamp: str, status: int, latency: int | None) -> dict:
    record = {"timestamp": stamp, "request_id": f"h{i}", "model": "gpt-4o-mini",
              "input_tokens": 100, "output_tokens": 10, "status": status}  # fmt: skip
    return record if latency is None else {**record, "latency_ms": latency}


def test_each_hour_counts_its_requests_errors_and_429s(engine: Engine) -> None:
    calls = [
        ("2025-06-01T09:59:59.999Z", 200, 100),  # the last instant of 09:00
        ("2025-06-01T10:00:00Z", 399, 100),  # not an error
        ("2025-06-01T10:15:00Z", 400, 100),  # an error
        ("2025-06-01T10:30:00+02:00", 429, None),  # 08:30 UTC, an error and a 429, untimed
        ("2025-06-01T10:59:00Z", 500, 20_000),
        ("2025-06-01T23:30:00-01:00", 200, None),  # 00:30 UTC the next day
    ]
    records = [_record(i, *call) for i, call in enumerate(calls)]
    assert ingest_records(engine, records, source="t", file_name="h.jsonl", actor=ADMIN).accepted
    fast, slow = (int(bucket_index([ms], LATENCY_EDGES_MS)[0]) for ms in (100, 20_000))
    expected = [
        ("2025-06-01", 8, -1, 1, 1, 1),
        ("2025-06-01", 9, fast, 1, 0, 0),
        ("2025-06-01", 10, fast, 2, 1, 0),
        ("2025-06-01", 10, slow, 1, 1, 0),
        ("2025-06-02", 0, -1, 1, 0, 0),
    ]
    assert _hourly(engine) == sorted(expected)
    with engine.begin() as conn:
        _far_from_utc(conn)  # hours are UTC's whatever the session's time zone
        rebuild(conn)
    assert _hourly(engine) == sorted(expected)
    with engine.begin() as conn:  # step 0028 fills the table with its own SQL
        _far_from_utc(conn)
        conn.execute(text("DELETE FROM traffic_hourly"))
        m0028.apply_fill(conn)
    assert _hourly(engine) == sorted(expected)


def _far_from_utc(conn) -> None:  # type: ignore[no-untyped-def]
    """A PostgreSQL session in a time zone 5.5 hours from UTC (SQLite keeps UTC text)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))


def test_pruned_hours_still_give_their_windows(engine: Engine) -> None:
    records = [
        _record(i, f"2025-06-01T10:{i:02d}:00Z", 500 if i < 30 else 200, 100) for i in range(40)
    ]
    ingest_records(engine, records, source="t", file_name="p.jsonl", actor=ADMIN)
    start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 2, tzinfo=UTC)
    before = window_series(engine, "all", start, end, 60)
    prune(engine, date(2025, 6, 2), actor=ADMIN)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM request_log")).scalar() == 0
    after = window_series(engine, "all", start, end, 60)
    assert after == before
    assert [(m.requests, m.errors) for m in after] == [(40, 30)]
    # a scope other than all traffic reads the request rows: nothing is left of them
    assert window_series(engine, "model:gpt-4o-mini", start, end, 60) == []


CALL = st.tuples(
    st.integers(0, 3 * 1440 - 1),  # minute of a three-day stretch
    st.integers(0, 59),  # second
    st.sampled_from([200, 399, 400, 429, 500]),
    st.one_of(st.none(), st.integers(0, 100_000)),  # latency, or none
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    calls=st.lists(CALL, min_size=1, max_size=40),
    start_minute=st.integers(0, 3 * 1440),
    length_minutes=st.integers(1, 3 * 1440),
    minutes=st.sampled_from([60, 120, 180, 1440, 15, 90]),
)
def test_window_series_equal_the_request_rows_counted_one_by_one(
    engine: Engine, calls: list[tuple], start_minute: int, length_minutes: int, minutes: int
) -> None:
    """Whole hours come from the hourly rollup, the period's ragged ends from the rows: each
    window's requests, errors, 429s and latency histogram equal a count of the calls."""
    example = next(EXAMPLES)
    base = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=4 * example)  # a stretch of its own
    stamps = [base + timedelta(minutes=m, seconds=s) for m, s, _, _ in calls]
    records = [
        _record(i, f"{stamp:%Y-%m-%dT%H:%M:%S}Z", status, latency)
        for i, (stamp, (_, _, status, latency)) in enumerate(zip(stamps, calls, strict=True))
    ]
    records = [{**r, "request_id": f"e{example}-{r['request_id']}"} for r in records]
    ingest_records(engine, records, source="t", file_name=f"w{example}.jsonl", actor=ADMIN)
    start = base + timedelta(minutes=start_minute, seconds=17)
    end = start + timedelta(minutes=length_minutes, seconds=29)
    seconds = minutes * 60
    expected: dict[int, list] = {}
    for stamp, (_, _, status, latency) in zip(stamps, calls, strict=True):
        if start <= stamp < end:
            counts = expected.setdefault(
                int(stamp.timestamp()) // seconds, [0, 0, 0, [0] * len(LATENCY_EDGES_MS)]
            )
            counts[0] += 1
            counts[1] += status >= 400
            counts[2] += status == 429
            if latency is not None:
                counts[3][int(bucket_index([latency], LATENCY_EDGES_MS)[0])] += 1
    got = {
        int(m.start.timestamp()) // seconds: [
            m.requests, m.errors, m.rate_limited, list(m.latency_counts)
        ]
        for m in window_series(engine, "all", start, end, minutes)
    }  # fmt: skip
    assert got == expected
