"""Grouped traffic from the routing rollup (or the request rows), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text

from core.identity import canonical
from core.pricing import PriceBook
from core.routing import RuleError, parse_rule
from db.ingest.rollups import rebuild
from db.models import RequestLog
from db.traffic import (
    GROUP_KEY,
    SCAN_PARTS,
    grouped_traffic,
    period,
    rule_name_problem,
    simulate_logged,
    traffic_options,
    traffic_span,
)
from tests.actors import ADMIN
from tests.rows import with_keys

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
BOOK = PriceBook.from_snapshot()


def _row(
    n: int, day: date, model: str, input_tokens: int, output_tokens: int, **extra: object
) -> dict:
    row = {
        "ts": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        "day": day,
        "source": "test",
        "request_id": f"r{n}",
        "model": model,
        "model_id": canonical(BOOK, model),  # as ingest stores it
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_pusd": 1_000_000 * n,
        "project": "",
        "feature": "",
        "status": 200,
        "cached_input_tokens": 0,
    }
    row.update(extra)
    return row


def _fill(engine: Engine) -> None:
    rows = [
        _row(1, D1, "gpt-4o-2024-08-06", 1500, 300, project="bot", cached_input_tokens=500),
        _row(2, D1, "gpt-4o-2024-08-06", 1200, 200, project="bot"),
        _row(3, D2, "gpt-4o-2024-08-06", 1800, 400, project="bot"),
        _row(4, D2, "gpt-4o", 2500, 700, project="bot"),
        _row(5, D2, "gpt-4o-mini", 100, 50, project="search", feature="embed", status=429),
        _row(6, D3, "gpt-4o", 900, 100, project="bot"),  # outside the range below
    ]
    with engine.begin() as conn:
        conn.execute(insert(RequestLog.__table__), with_keys(rows))
        rebuild(conn)  # the rollups of rows stored outside an ingest


def test_groups_by_model_and_token_buckets(engine: Engine) -> None:
    _fill(engine)
    frame = grouped_traffic(engine, D1, D2, input_cuts=(2000,), output_cuts=(500,))
    frame = frame.sort_values(["model", "in_bucket"]).reset_index(drop=True)
    # gpt-4o-2024-08-06 and gpt-4o are one model: grouped under its canonical id.
    assert frame["model"].tolist() == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    dated = frame.iloc[0]  # requests 1-3 (logged with the dated id), bucket <= 2,000 / <= 500
    assert dated["requests"] == 3
    assert dated["input_tokens"] == 4500  # 1,500 + 1,200 + 1,800
    assert dated["cached_input_tokens"] == 500
    assert dated["output_tokens"] == 900
    assert (dated["in_min"], dated["in_max"], dated["in_bucket"]) == (1200, 1800, 0)
    assert (dated["out_bucket"], dated["cost_pusd"]) == (0, 6_000_000)  # 1 + 2 + 3 million
    big = frame.iloc[1]  # request 4, logged as gpt-4o: above both cut points
    assert (big["requests"], big["in_bucket"], big["out_bucket"]) == (1, 1, 1)
    mini = frame.iloc[2]
    assert (mini["status"], mini["feature"], mini["project"]) == (429, "embed", "search")


def test_filters_and_empty_results(engine: Engine) -> None:
    _fill(engine)
    only_search = grouped_traffic(engine, D1, D3, projects=["search"])
    assert only_search["requests"].sum() == 1
    by_model = grouped_traffic(engine, D1, D3, models=["gpt-4o"])
    assert by_model["requests"].sum() == 5  # 1-3 logged as gpt-4o-2024-08-06, 4 and 6 as gpt-4o
    tagged = grouped_traffic(engine, D1, D3, features=["embed"])
    assert tagged["model"].tolist() == ["gpt-4o-mini"]
    nothing = grouped_traffic(engine, date(2024, 1, 1), date(2024, 1, 31))
    assert nothing.empty and "requests" in nothing.columns


def test_span_options_and_period(engine: Engine) -> None:
    assert traffic_span(engine) == (None, None)
    assert period(engine, None, None) is None
    _fill(engine)
    assert traffic_span(engine) == (D1, D3)
    assert period(engine, D2, None) == (D2, D3)
    options = traffic_options(engine, D1, D2)
    assert options["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert options["projects"] == ["bot", "search"]
    assert options["features"] == ["embed"]


def test_simulate_logged_matches_dated_ids_and_exact_thresholds(engine: Engine) -> None:
    _fill(engine)
    rule = parse_rule("model=gpt-4o,max_input_tokens=1800,target=gpt-4o-mini")
    result = simulate_logged(engine, [rule], PriceBook.from_snapshot(), D1, D2)
    # The 1,800-token threshold becomes a bucket edge, so requests 1-3 (<= 1,800) match and
    # request 4 (2,500) does not. gpt-4o: 4,500 in (500 cached) / 900 out =
    # 4,000 x 2.5 + 500 x 1.25 + 900 x 10 = 10,000 + 625 + 9,000 = $0.019625 per 1M-scaled;
    # gpt-4o-mini: 4,000 x 0.15 + 500 x 0.075 + 900 x 0.6 = 600 + 37.5 + 540 = $0.0011775.
    assert result.rules[0].matched_requests == 3
    assert result.savings_usd == Decimal("0.019625") - Decimal("0.0011775")
    assert result.period_days == 2


def test_ingested_logs_simulate_at_the_cost_ingest_stored(engine: Engine) -> None:
    from db.ingest import ingest_records

    records = [
        {
            "timestamp": f"2025-04-0{1 + i % 3}T10:00:00Z",
            "request_id": f"q{i}",
            "model": "gpt-4o-2024-08-06" if i % 2 else "gpt-4o-mini",
            "input_tokens": 1000 + 100 * i,
            "output_tokens": 200 + 10 * i,
            "latency_ms": 900,
            "status": 200,
        }
        for i in range(12)
    ]
    ingest_records(engine, records, source="t", file_name="t.jsonl", actor=ADMIN)
    frame = grouped_traffic(engine, date(2025, 4, 1), date(2025, 4, 3))
    assert frame["requests"].sum() == 12
    assert set(frame["model"]) == {"gpt-4o", "gpt-4o-mini"}  # the dated id folded by ingest
    result = simulate_logged(
        engine, [], PriceBook.from_snapshot(), date(2025, 4, 1), date(2025, 4, 3)
    )
    # With no rules the baseline is exactly what ingestion charged, to the pico-dollar.
    assert result.baseline_usd == Decimal(int(frame["cost_pusd"].sum())) / 10**12
    assert result.baseline_usd > 0


def test_both_logged_names_of_a_model_route_as_one(engine: Engine) -> None:
    _fill(engine)
    frame = grouped_traffic(engine, D1, D2)
    assert frame.groupby("model")["requests"].sum().to_dict() == {"gpt-4o": 4, "gpt-4o-mini": 1}
    # A rule naming the dated id matches the gpt-4o traffic logged under either name.
    rule = parse_rule("model=gpt-4o-2024-08-06,target=gpt-4o-mini,share=1")
    result = simulate_logged(engine, [rule], BOOK, D1, D2)
    assert result.rules[0].matched_requests == 4
    assert result.models.set_index("model").loc["gpt-4o", "requests_after"] == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("model=gpt-4x,target=gpt-4o-mini", "rule 1: no model named 'gpt-4x' has traffic or a "
         "price; did you mean"),
        ("model=gpt-4o,target=gpt-4o-mnii", "rule 1: target model 'gpt-4o-mnii' is not in the "
         "price book; did you mean gpt-4o-mini"),
    ],
)  # fmt: skip
def test_a_rule_naming_nothing_is_refused_with_a_suggestion(
    engine: Engine, spec: str, message: str
) -> None:
    _fill(engine)
    with pytest.raises(RuleError) as caught:
        simulate_logged(engine, [parse_rule(spec)], BOOK, D1, D2)
    assert str(caught.value).startswith(message)


def test_a_priced_model_without_traffic_is_a_valid_rule(engine: Engine) -> None:
    _fill(engine)
    rule = parse_rule("model=gpt-4.1,target=gpt-4o-mini")
    assert rule_name_problem(engine, rule, BOOK, D2) is None
    assert simulate_logged(engine, [rule], BOOK, D1, D2).rules[0].matched_requests == 0


# --- the rollup is exact to the request ------------------------------------------------------

EXACT_RULES = [
    "model=gemini-2.5-pro,max_input_tokens=256000,target=gemini-2.5-flash,share=0.6,escalation=0.1",
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "model=claude-sonnet-4-5,min_input_tokens=1000,target=gpt-4o-mini,share=0.5",
    "project=search,status=ok,batch_share=0.5",
    "model=gemini-1.5-pro,max_output_tokens=1000,target=gpt-4.1-mini,share=1",
]
# Sizes on and beside every edge the rules and the models' tiers and windows decide on.
EDGY = (0, 1, 999, 1000, 1001, 1999, 2000, 2001, 127999, 128000, 128001, 199999, 200000,
        200001, 255999, 256000, 256001, 300000)  # fmt: skip
SPREAD = date(2025, 6, 2), date(2025, 6, 6)


def _traffic_records(
    count: int = 400, seed: int = 5, first: date = SPREAD[0], days: int = 5
) -> list[dict]:
    """Requests of five models over `days` days from `first`: sizes spread widely and on
    every edge."""
    import random

    rnd = random.Random(seed)
    models = ("gpt-4o", "gpt-4o-2024-08-06", "gemini-2.5-pro", "claude-sonnet-4-5",
              "gemini-1.5-pro", "gpt-4.1", "my-own-model")  # fmt: skip
    records = []
    for i in range(count):
        size = rnd.choice(EDGY) if i % 3 == 0 else int(10 ** rnd.uniform(0, 5.6))
        out = rnd.choice((0, 999, 1000, 1001)) if i % 5 == 0 else int(10 ** rnd.uniform(0, 4))
        record = {
            "timestamp": f"{first + timedelta(days=i % days)}T{i % 24:02d}:00:00Z",
            "request_id": f"x{i}",
            "model": models[i % len(models)],
            "input_tokens": size,
            "output_tokens": out,
            "cached_input_tokens": size // 3 if i % 4 == 0 else 0,
            "project": ("search", "bot", "")[i % 3],
            "feature": ("chat", "", "rag")[i // 3 % 3] if i % 7 else None,  # not by project
            "tags": ["rag", "beta"] if i % 7 == 0 else None,
            "status": (200, 200, 200, 429, 500)[i % 5],
            "batch": i % 6 == 0,
        }
        records.append({k: v for k, v in record.items() if v is not None})
    return records


def _per_request(engine: Engine, start: date, end: date) -> pd.DataFrame:
    """Every request of the period as its own traffic row (the per-request computation)."""
    query = text(
        "SELECT model_id AS model, project, feature, status, batch, input_tokens, "
        "cached_input_tokens, cache_write_tokens, output_tokens FROM request_log "
        "WHERE day >= :start AND day <= :end"
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query, {"start": start, "end": end}).mappings().all())
    frame["requests"] = 1
    frame["batch"] = frame["batch"].astype(bool)
    frame["in_min"] = frame["in_max"] = frame["input_tokens"]
    frame["out_min"] = frame["out_max"] = frame["output_tokens"]
    return frame


@pytest.mark.parametrize(
    "specs",
    [EXACT_RULES, [r for r in EXACT_RULES if r.startswith("model=")]],
    ids=["labels", "models-only"],
)
def test_savings_from_the_rollup_equal_the_per_request_computation(
    engine: Engine, specs: list[str]
) -> None:
    """With a rule on a project and a status the routing rollup answers; with rules on models
    only, the routing rollup by model (`routing_model_daily`). Both to the pico-dollar."""
    from core.routing import match_labels, simulate
    from db.ingest import ingest_records

    report = ingest_records(
        engine, _traffic_records(), source="t", file_name="t.jsonl", book=BOOK, actor=ADMIN
    )
    assert report.accepted == 400 and not report.errors
    rules = [parse_rule(spec) for spec in specs]
    assert match_labels(rules) == (("project", "status") if len(specs) == 5 else ())
    start, end = SPREAD
    logged = simulate_logged(engine, rules, BOOK, start, end)
    single = simulate(_per_request(engine, start, end), rules, BOOK, when=end, period_days=5)
    assert logged.requests == single.requests > 300  # the unpriced model's are left out of both
    assert (logged.baseline_usd, logged.scenario_usd) == (single.baseline_usd, single.scenario_usd)
    assert logged.savings_usd == single.savings_usd != 0
    for mine, theirs in zip(logged.rules, single.rules, strict=True):
        assert (mine.matched_requests, mine.requests_moved, mine.requests_blocked) == (
            theirs.matched_requests, theirs.requests_moved, theirs.requests_blocked,
        )  # fmt: skip
        assert mine.savings_usd == theirs.savings_usd
    assert all(r.matched_requests for r in logged.rules)  # every rule took some traffic


@pytest.mark.parametrize(
    "cuts",
    [
        ((2000,), (500,)),
        ((256, 512, 1000, 2000, 4000, 8000, 16000, 32000, 128000), (100, 250, 500, 1000)),
        ((0, 1999, 2000, 127999, 128000, 199999, 200000), ()),
    ],
)
@pytest.mark.parametrize("labels", [("project", "feature", "status"), ("feature",), ()])
def test_the_rollup_groups_exactly_as_the_request_rows(
    engine: Engine, cuts: tuple, labels: tuple
) -> None:
    """Every label asked for: the routing rollup; none: the routing rollup by model. Either
    groups as the request rows do, summed over the labels not asked for."""
    from db.ingest import ingest_records

    ingest_records(
        engine, _traffic_records(), source="t", file_name="t.jsonl", book=BOOK, actor=ADMIN
    )
    keys = ["model", "project", "feature", "status", "batch", "in_bucket", "out_bucket"]
    start, end = date(2025, 6, 3), date(2025, 6, 5)
    frames = [
        grouped_traffic(
            engine,
            start,
            end,
            input_cuts=cuts[0],
            output_cuts=cuts[1],
            labels=labels,
            from_rows=raw,
        )
        .sort_values(keys)
        .reset_index(drop=True)
        for raw in (False, True)
    ]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0]["requests"].sum() == 240  # three of the five days
    summed_over = [name for name in ("project", "feature", "status") if name not in labels]
    assert all(frames[0][name].nunique() == 1 for name in summed_over)
    if labels:
        assert frames[0]["feature"].nunique() > 1


LABEL_SETS = st.lists(st.sampled_from(["project", "feature", "status"]), unique=True)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.integers(0, 4),
    length=st.integers(1, 5),
    labels=LABEL_SETS,
    models=st.sampled_from([None, ["gpt-4o"], ["gpt-4o", "gemini-2.5-pro", "gpt-4.1"]]),
    parts=st.integers(2, 6),
)
def test_traffic_read_in_parts_equals_one_read(
    engine: Engine, first: int, length: int, labels: list, models: list | None, parts: int
) -> None:
    """On SQLite the routing rollup of a period is read in day ranges at once, merged by
    `core.rollups.coarser`: any period, labels, models and number of parts groups exactly as
    one read does (no labels: the rollup by model, read in one)."""
    import db.traffic as traffic_mod
    from db.ingest import ingest_records

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM request_log")).scalar()
    if not stored:
        ingest_records(
            engine, _traffic_records(), source="t", file_name="t.jsonl", book=BOOK, actor=ADMIN
        )
    start = SPREAD[0] + timedelta(days=first)
    end = min(start + timedelta(days=length - 1), SPREAD[1])
    keys = list(GROUP_KEY)
    frames = []
    for count in (1, parts):
        traffic_mod.SCAN_PARTS = count
        try:
            frame = grouped_traffic(engine, start, end, models=models, labels=tuple(labels))
        finally:
            traffic_mod.SCAN_PARTS = SCAN_PARTS
        frames.append(frame.sort_values(keys).reset_index(drop=True))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0]["requests"].sum() > 0


WEEKS = date(2025, 6, 1), 23  # a Sunday, then three whole weeks and a Monday


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.integers(0, WEEKS[1] - 1),
    length=st.integers(1, WEEKS[1]),
    models=st.sampled_from([None, ["gpt-4o"], ["gpt-4o", "gemini-2.5-pro", "gpt-4.1"]]),
    cuts=st.sampled_from([((2000,), (500,)), ((0, 1999, 2000, 127999, 128000), (999, 1000))]),
    labels=st.sampled_from([(), ("project",), ("status",), ("project", "status")]),
    projects=st.sampled_from([None, ["search"], ["bot", ""]]),
)
def test_a_period_read_by_weeks_and_days_groups_as_its_request_rows(
    engine: Engine,
    first: int,
    length: int,
    models: list | None,
    cuts: tuple,
    labels: tuple,
    projects: list | None,
) -> None:
    """Rules naming no feature read a period's whole weeks from a weekly rollup (by model, or
    by project when a project or status is named) and its other days from the daily one: any
    period groups exactly as its request rows do, on every column (extremes and money too)."""
    from db.ingest import ingest_records

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM request_log")).scalar()
    if not stored:
        records = _traffic_records(700, first=WEEKS[0], days=WEEKS[1])
        ingest_records(engine, records, source="t", file_name="t.jsonl", book=BOOK, actor=ADMIN)
    start = WEEKS[0] + timedelta(days=first)
    end = min(start + timedelta(days=length - 1), WEEKS[0] + timedelta(days=WEEKS[1] - 1))
    keys = list(GROUP_KEY)
    frames = [
        grouped_traffic(
            engine, start, end, models=models, projects=projects, input_cuts=cuts[0],
            output_cuts=cuts[1], labels=labels, from_rows=raw,
        )
        .sort_values(keys)
        .reset_index(drop=True)
        for raw in (False, True)
    ]  # fmt: skip
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0]["requests"].sum() > 0


def test_only_a_period_holding_a_whole_week_reads_the_weekly_rollup(engine: Engine) -> None:
    """Monday 2 June to Sunday 8 June is a whole week; Tuesday to the next Monday is not."""
    from db.traffic import PROJECT_WEEKS, ROUTING_MODELS, ROUTING_PROJECTS, ROUTING_WEEKS, _parts

    def tables(start: date, end: date) -> list:
        return [table for table, _ in _parts(engine, ROUTING_MODELS, start, end)]

    assert tables(date(2025, 6, 2), date(2025, 6, 8)) == [ROUTING_WEEKS]
    assert tables(date(2025, 6, 1), date(2025, 6, 9)) == [ROUTING_WEEKS, ROUTING_MODELS]
    assert tables(date(2025, 6, 3), date(2025, 6, 9)) == [ROUTING_MODELS]
    by_project = [
        t for t, _ in _parts(engine, ROUTING_PROJECTS, date(2025, 6, 1), date(2025, 6, 9))
    ]
    assert by_project == [PROJECT_WEEKS, ROUTING_PROJECTS]


@pytest.mark.parametrize(
    ("labels", "projects", "features", "read"),
    [
        ((), None, None, "routing_model_daily"),
        (("project",), None, None, "routing_project_daily"),
        (("status",), None, None, "routing_project_daily"),
        ((), ["search"], None, "routing_project_daily"),
        (("project", "feature"), None, None, "routing_rollup"),
        (("status",), None, ["chat"], "routing_rollup"),
    ],
)
def test_a_simulation_reads_the_smallest_routing_rollup_holding_its_groups(
    labels: tuple, projects: list | None, features: list | None, read: str
) -> None:
    from db.traffic import _rollup_for

    assert _rollup_for(labels, projects, features).day.table.name == read
