"""The drill-down on SQLite and PostgreSQL: a day's raw requests, their totals equal to the
rollup, top users and projects, pages, and rows that were pruned."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text

from db.ingest import ingest_records
from db.queries.drilldown import (
    Drill,
    drill_totals,
    request_rows,
    rollup_requests,
    top_groups,
)
from tests.actors import ADMIN

NOV2, NOV3 = date(2026, 11, 2), date(2026, 11, 3)
# gpt-4o: $2.50 input, $10 output per 1M tokens -> 1,000 in + 100 out = 0.0025 + 0.001 = $0.0035
GPT_4O_CALL = 3_500_000_000  # pico-dollars
# gpt-4o-mini: $0.15 / $0.60 -> 1,000 in + 100 out = 0.00015 + 0.00006 = $0.00021
MINI_CALL = 210_000_000


def _record(rid: str, ts: str, model: str, user: str, *, status: int = 200, project="search"):
    tokens = (1000, 100) if status == 200 else (0, 0)
    return {"timestamp": ts, "request_id": rid, "model": model, "user": user,
            "project": project, "status": status, "input_tokens": tokens[0],
            "output_tokens": tokens[1], "latency_ms": 900}  # fmt: skip


@pytest.fixture
def stored(engine: Engine) -> Engine:
    records = [
        _record("a", "2026-11-02T00:00:00Z", "gpt-4o", "alice"),
        _record("b", "2026-11-02T09:30:00Z", "gpt-4o-2024-08-06", "alice"),
        _record("c", "2026-11-02T12:00:00Z", "gpt-4o", "bob", project="copilot"),
        _record("d", "2026-11-02T23:59:59Z", "gpt-4o", "bob", status=429),
        _record("e", "2026-11-02T15:00:00Z", "gpt-4o-mini", "carol"),
        _record("f", "2026-11-03T00:00:00Z", "gpt-4o", "alice"),  # the next day
    ]
    assert (
        ingest_records(engine, records, source="t", file_name="t.jsonl", actor=ADMIN).accepted == 6
    )
    return engine


def _rollup(engine: Engine, day: date, model_id: str) -> tuple[int, int]:
    """(requests, cost) of one day and model from the rollup, by plain SQL."""
    sql = text(
        "SELECT SUM(requests), SUM(cost_pusd) FROM daily_rollup "
        "WHERE day = :day AND model_id = :model"
    )
    with engine.connect() as conn:
        n, cost = conn.execute(sql, {"day": day, "model": model_id}).one()
    return int(n), int(cost)


def test_a_days_requests_add_up_to_its_rollup(stored: Engine) -> None:
    drill = Drill(NOV2, NOV2, model_id="gpt-4o")
    totals = drill_totals(stored, drill)
    # a, b (the dated snapshot is gpt-4o too), c: 3 × $0.0035; d failed (429, no tokens)
    assert (totals.requests, totals.errors, totals.cost_pusd) == (4, 1, 3 * GPT_4O_CALL)
    assert (totals.input_tokens, totals.output_tokens) == (3000, 300)
    assert (totals.requests, totals.cost_pusd) == _rollup(stored, NOV2, "gpt-4o")
    assert rollup_requests(stored, drill) == 4
    every_model = drill_totals(stored, Drill(NOV2, NOV2))
    assert every_model.cost_pusd == 3 * GPT_4O_CALL + MINI_CALL


def test_top_users_and_projects(stored: Engine) -> None:
    drill = Drill(NOV2, NOV2, model_id="gpt-4o")
    users = top_groups(stored, drill, "user")
    assert users.values.tolist() == [
        ["alice", 2, 0, 2200, 2 * GPT_4O_CALL],
        ["bob", 2, 1, 1100, GPT_4O_CALL],
    ]
    projects = top_groups(stored, drill, "project", limit=1)
    assert projects[["key", "requests"]].values.tolist() == [["search", 3]]  # a, b and d
    with pytest.raises(ValueError, match="cannot group"):
        top_groups(stored, drill, "request_id")


def test_requests_are_listed_a_page_at_a_time_with_filters(stored: Engine) -> None:
    drill = Drill(NOV2, NOV2, model_id="gpt-4o")
    first = request_rows(stored, drill, limit=3)  # most expensive first: the $0.0035 calls
    assert sorted(first["request_id"]) == ["a", "b", "c"]
    assert first["cost_pusd"].tolist() == [GPT_4O_CALL] * 3
    assert request_rows(stored, drill, offset=3, limit=3)["request_id"].tolist() == ["d"]
    newest = request_rows(stored, drill, order="newest")["request_id"].tolist()
    assert newest == ["d", "c", "b", "a"]
    assert "prompt" not in first.columns and "messages" not in first.columns
    assert request_rows(stored, Drill(NOV2, NOV2, user="bob"))["request_id"].tolist() == [
        "c",
        "d",
    ]
    failed = request_rows(stored, Drill(NOV2, NOV2, statuses=(429,)))
    assert failed["request_id"].tolist() == ["d"]


def test_pruned_rows_are_told_apart_from_no_traffic(stored: Engine) -> None:
    with stored.begin() as conn:  # what a retention prune leaves: rollups without raw rows
        conn.execute(text("DELETE FROM request_log WHERE day = :day"), {"day": NOV2})
    drill = Drill(NOV2, NOV2, model_id="gpt-4o")
    assert drill_totals(stored, drill).requests == 0
    assert rollup_requests(stored, drill) == 4
    assert rollup_requests(stored, Drill(NOV3, NOV3, model_id="gpt-4o-mini")) == 0


def test_a_drill_down_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most 31 days"):
        Drill(date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(ValueError, match="on or after"):
        Drill(NOV3, NOV2)
