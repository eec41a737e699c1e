"""Grouped traffic from request_log in one GROUP BY, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from core.identity import canonical
from core.pricing import PriceBook
from core.routing import RuleError, parse_rule
from db.models import RequestLog
from db.traffic import (
    grouped_traffic,
    period,
    rule_name_problem,
    simulate_logged,
    traffic_options,
    traffic_span,
)
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
    ingest_records(engine, records, source="t", file_name="t.jsonl")
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
