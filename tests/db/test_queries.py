"""Usage page aggregates over hand-built rollups and histograms, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from core.stats import LATENCY_EDGES_MS, OUTPUT_EDGES_TOKENS
from db import queries
from db.queries import UsageFilters
from db.queries.common import bucket_totals
from tests.actors import ADMIN
from tests.rows import insert_histograms, insert_rollup

OCT30, NOV2, NOV3 = date(2026, 10, 30), date(2026, 11, 2), date(2026, 11, 3)
G = 10**9  # 1e9 pico-dollars = $0.001

KEY = ("day", "provider", "model", "project", "feature", "batch", "status")
SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cost_pusd",
    "cache_savings_pusd",
    "truncated",
)
# day, provider, model, project, feature, batch, status | requests, unpriced, input, cached,
# output, cost_pusd, cache_savings_pusd, truncated. Each model here is logged under its
# canonical id (model_id == model); the identity tests below log one model under several names.
ROWS = [
    (
        NOV2,
        "openai",
        "gpt-4o",
        "search",
        "chat",
        False,
        200,
        10,
        0,
        10_000,
        2_000,
        5_000,
        100 * G,
        10 * G,
        1,
    ),
    (NOV2, "openai", "gpt-4o", "search", "chat", False, 429, 2, 0, 0, 0, 0, 0, 0, 0),
    (
        NOV2,
        "openai",
        "gpt-4o",
        "search",
        "chat",
        False,
        500,
        1,
        0,
        1_000,
        0,
        0,
        2_500_000_000,
        0,
        0,
    ),
    (
        NOV3,
        "openai",
        "gpt-4o-mini",
        "support",
        "",
        False,
        200,
        20,
        0,
        4_000,
        0,
        2_000,
        1_800_000_000,
        0,
        2,
    ),
    (NOV3, "openai", "gpt-4o-mini", "support", "", False, 503, 30, 0, 0, 0, 0, 0, 0, 0),
    (NOV3, "custom", "acme-7b", "support", "", False, 200, 5, 5, 500, 0, 100, 0, 0, 0),
    (OCT30, "openai", "gpt-4o", "search", "chat", False, 200, 4, 0, 100, 0, 100, 50 * G, 0, 0),
]
NOV = UsageFilters(start=NOV2, end=NOV3)


def _rollup(values: tuple) -> dict:
    row = dict(zip(KEY + SUMS, values, strict=True))
    row["model_id"] = row["model"]
    rest = ("cache_write_tokens", "reasoning_tokens", "uncached_input_pusd", "cached_input_pusd")
    rest += ("cache_write_pusd", "output_pusd", "with_max_tokens", "latency_count")
    return row | dict.fromkeys((*rest, "latency_sum_ms"), 0)


def _hist(day: date, model: str, project: str, status: int, bucket: int, count: int) -> dict:
    return {"day": day, "model_id": model, "project": project, "status": status} | {
        "bucket": bucket,
        "count": count,
    }


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """The rollups above, plus latency and output histograms built by hand."""
    latency = [
        _hist(NOV2, "gpt-4o", "search", 200, 5, 60),
        _hist(NOV2, "gpt-4o", "search", 200, 10, 40),
        _hist(NOV3, "gpt-4o-mini", "support", 200, 20, 10),
    ]
    output = [
        _hist(NOV2, "gpt-4o", "search", 200, 70, 99),
        _hist(NOV2, "gpt-4o", "search", 200, 90, 1),
        _hist(NOV3, "acme-7b", "support", 200, 0, 5),  # no output tokens: left out
    ]
    with engine.begin() as conn:
        insert_rollup(conn, [_rollup(r) for r in ROWS])
        insert_histograms(conn, latency, output)
    return engine


def test_an_empty_database_has_no_filter_values_and_zero_figures(engine):
    assert queries.filter_values(engine).empty
    report = queries.usage_report(engine, NOV)
    assert report.kpis.requests == 0 and report.kpis.cost_usd == 0
    assert report.kpis.p95_latency_ms is None and report.kpis.avg_cost_per_request_usd is None
    assert report.daily.empty and report.latency.empty and report.by_project.empty
    assert report.audit.suggested_max_tokens is None and report.failure.total_usd == 0


def test_filter_values_list_what_is_stored(stored):
    values = queries.filter_values(stored)
    assert (values.first_day, values.last_day) == (OCT30, NOV3)
    assert values.projects == ["search", "support"]
    assert values.models == ["acme-7b", "gpt-4o", "gpt-4o-mini"]
    assert values.statuses == [200, 429, 500, 503]


def test_kpis_match_the_hand_computed_figures(stored):
    k = queries.usage_report(stored, NOV).kpis
    assert k.requests == 10 + 2 + 1 + 20 + 30 + 5  # 68; the October row is outside
    assert k.unpriced_requests == 5
    assert k.tokens == (10_000 + 1_000 + 4_000 + 500) + (5_000 + 2_000 + 100)  # 15,500 + 7,100
    assert k.cost_usd == Decimal("0.1043")  # 100e9 + 2.5e9 + 1.8e9 pico-dollars
    assert k.month_to_date_usd == Decimal("0.1043")  # November 1st to 3rd
    assert k.avg_cost_per_request_usd == Decimal("0.1043") / 63  # 68 - 5 unpriced
    assert k.errors == 33 and k.error_share == 33 / 68  # 429 x2, 500 x1, 503 x30
    assert k.rate_limited == 2
    assert k.cache_savings_usd == Decimal("0.01")
    # P95 of counts {5: 60, 10: 40, 20: 10}: target 0.95 * 110 = 104.5 lies in bucket 20,
    # 4.5 of its 10 counts in -> edges[20] + 0.45 * (edges[21] - edges[20]).
    e = LATENCY_EDGES_MS
    assert k.p95_latency_ms == pytest.approx(e[20] + 0.45 * (e[21] - e[20]))
    # P50: target 55 lies in bucket 5 (60 counts) -> edges[5] + 55/60 of its width.
    assert k.p50_latency_ms == pytest.approx(e[5] + 55 / 60 * (e[6] - e[5]))


def test_month_to_date_ignores_the_start_filter_but_not_the_month(stored):
    k = queries.usage_report(stored, UsageFilters(start=OCT30, end=NOV3)).kpis
    assert k.cost_usd == Decimal("0.1543")  # + the October 30 row's $0.05
    assert k.month_to_date_usd == Decimal("0.1043")
    assert k.month_start == date(2026, 11, 1)
    late = queries.usage_report(stored, UsageFilters(start=NOV3, end=NOV3)).kpis
    assert late.cost_usd == Decimal("0.0018") and late.month_to_date_usd == Decimal("0.1043")


@pytest.mark.parametrize(
    ("filters", "requests", "cost_usd"),
    [
        (UsageFilters(NOV2, NOV3, projects=("support",)), 55, Decimal("0.0018")),
        (UsageFilters(NOV2, NOV3, models=("gpt-4o",)), 13, Decimal("0.1025")),
        (UsageFilters(NOV2, NOV3, statuses=(429, 500)), 3, Decimal("0.0025")),
        (UsageFilters(NOV3, NOV3), 55, Decimal("0.0018")),
    ],
)
def test_filters_narrow_the_kpis(stored, filters, requests, cost_usd):
    k = queries.usage_report(stored, filters).kpis
    assert (k.requests, k.cost_usd) == (requests, cost_usd)


def test_daily_frames_by_model_and_totals(stored):
    report = queries.usage_report(stored, NOV)
    daily = report.daily.set_index(["day", "model_id"])
    assert daily.loc[(NOV2, "gpt-4o"), ["requests", "errors", "rate_limited"]].tolist() == [
        13,
        3,
        2,
    ]
    assert daily.loc[(NOV2, "gpt-4o"), "cost_pusd"] == 102_500_000_000
    assert daily.loc[(NOV3, "gpt-4o-mini"), "requests"] == 50
    totals = report.totals.set_index("day")
    assert totals.loc[NOV2, "uncached_input_tokens"] == 11_000 - 2_000
    assert totals.loc[NOV2, "error_share"] == pytest.approx(3 / 13)
    assert totals.loc[NOV3, "error_share"] == pytest.approx(30 / 55)
    assert report.unpriced == {"acme-7b": 5}


def test_latency_percentiles_per_day_and_model(stored):
    latency = queries.usage_report(stored, NOV).latency.set_index(["day", "model_id"])
    e = LATENCY_EDGES_MS
    # {5: 60, 10: 40}: P95 target 95 -> bucket 10, (95 - 60) / 40 = 0.875 of its width.
    assert latency.loc[(NOV2, "gpt-4o"), "p95_ms"] == pytest.approx(e[10] + 0.875 * (e[11] - e[10]))
    assert latency.loc[(NOV2, "gpt-4o"), "p50_ms"] == pytest.approx(e[5] + 50 / 60 * (e[6] - e[5]))
    assert latency.loc[(NOV3, "gpt-4o-mini"), "p95_ms"] == pytest.approx(
        e[20] + 0.95 * (e[21] - e[20])
    )
    assert latency.loc[(NOV2, "gpt-4o"), "requests"] == 100


def test_headline_latency_buckets_are_the_histograms_summed(stored):
    for filters in (NOV, UsageFilters(NOV2, NOV2), UsageFilters(NOV2, NOV3, projects=("search",))):
        buckets = queries.latency_buckets(stored, filters)
        histogram = queries.latency_histogram(stored, filters)
        assert bucket_totals(buckets).tolist() == bucket_totals(histogram).tolist()
        totals = queries.kpi_totals(stored, filters)
        assert queries.assemble_kpis(totals, filters, buckets) == queries.assemble_kpis(
            totals, filters, histogram
        )
    # Nov 2 on project search: gpt-4o's {5: 60, 10: 40} -> P50 at 50/60 of bucket 5
    e = LATENCY_EDGES_MS
    search = UsageFilters(NOV2, NOV2, projects=("search",))
    kpis = queries.kpis(stored, search, queries.latency_buckets(stored, search))
    assert kpis.p50_latency_ms == pytest.approx(e[5] + 50 / 60 * (e[6] - e[5]))


def test_cost_by_project_and_feature(stored):
    frame = queries.usage_report(stored, NOV).by_project
    assert frame[["project", "feature", "requests", "cost_pusd"]].values.tolist() == [
        ["search", "chat", 13, 102_500_000_000],
        ["support", "", 55, 1_800_000_000],
    ]


def test_cost_by_project_and_feature_under_a_model_filter(stored):
    """Read from the feature rollup by model: gpt-4o-mini's support rows (20 + 30 requests,
    $0.0018) and acme-7b's (5, $0) sum to one support row; gpt-4o's are left out."""
    from db.queries.common import FEATURE_MODELS, FEATURES, rollup_for

    filters = UsageFilters(NOV.start, NOV.end, models=("gpt-4o-mini", "acme-7b"))
    assert rollup_for(filters, FEATURES, FEATURE_MODELS) is FEATURE_MODELS
    frame = queries.usage_report(stored, filters).by_project
    assert frame[["project", "feature", "requests", "cost_pusd"]].values.tolist() == [
        ["support", "", 55, 1_800_000_000],
    ]
    only = UsageFilters(NOV.start, NOV.end, models=("gpt-4o",), projects=("search",))
    search = queries.usage_report(stored, only).by_project
    assert search.values.tolist()[0][:2] == ["search", "chat"]
    assert search["cost_pusd"].tolist() == [102_500_000_000]


def test_cost_of_failure_failed_calls_and_estimated_retries(stored):
    failure = queries.usage_report(stored, NOV).failure
    assert failure.failed_usd == Decimal("0.0025")  # the 500 call's input tokens
    # gpt-4o/search: 3 retryable (429 x2, 500), 10 ok at 100e9 -> 3 retries x 10e9.
    # gpt-4o-mini/support: 30 x 503 but only 20 ok at 1.8e9 -> 20 retries x 0.09e9.
    assert failure.retries == 3 + 20
    assert failure.retry_usd == Decimal("0.03") + Decimal("0.0018")
    assert failure.total_usd == Decimal("0.0343")
    assert failure.by_status.values.tolist() == [[429, 2, 0], [500, 1, 2_500_000_000], [503, 30, 0]]
    by_day = failure.by_day.set_index("day")
    assert by_day.loc[NOV3, "retry_pusd"] == 1_800_000_000


def test_cost_of_failure_is_the_same_from_its_rollup_and_from_the_daily_rollups_rows(stored):
    from_rollup = queries.cost_of_failure(stored, NOV)
    # every stored key label is "": the filter keeps every row, but the failure rollup holds
    # no key label, so the estimate is made from the daily rollup's rows
    every_label = replace(NOV, key_labels=("",))
    from_rows = queries.cost_of_failure(stored, every_label)
    assert (from_rows.failed_usd, from_rows.retries, from_rows.retry_usd) == (
        Decimal("0.0025"), 23, Decimal("0.0318"),
    )  # fmt: skip
    assert from_rows.by_day.values.tolist() == from_rollup.by_day.values.tolist()
    assert from_rows.by_status.values.tolist() == from_rollup.by_status.values.tolist()
    # a project filter reads the rollup: gpt-4o-mini/support's 20 retries x 0.09e9 only
    support = queries.cost_of_failure(stored, replace(NOV, projects=("support",)))
    assert (support.failed_usd, support.retries, support.retry_usd) == (0, 20, Decimal("0.0018"))


def test_max_tokens_audit(stored):
    audit = queries.usage_report(stored, NOV).audit
    e = OUTPUT_EDGES_TOKENS
    # P99 of {70: 99, 90: 1}: target 99 = all of bucket 70 -> its upper edge.
    assert audit.p99_output_tokens == pytest.approx(e[71])
    assert audit.suggested_max_tokens == math.ceil(e[71] * 1.25 / 64) * 64 == 1024
    assert (audit.truncated, audit.requests) == (3, 68)
    assert audit.truncated_share == pytest.approx(3 / 68)
    assert audit.histogram["count"].tolist() == [99, 1]
    assert audit.zero_output == 5
    assert "acme-7b" not in set(audit.by_model["model_id"])
    row = audit.by_model.set_index("model_id").loc["gpt-4o"]
    assert (row["requests"], row["truncated"], row["suggested_max_tokens"]) == (13, 1, 1024)


def test_suggested_max_tokens_rounds_up_with_headroom():
    assert queries.suggest_max_tokens(None) is None
    assert queries.suggest_max_tokens(10) == 64  # never below one step
    assert queries.suggest_max_tokens(800) == 1024  # 1000 -> next multiple of 64
    assert queries.suggest_max_tokens(1024) == 1280  # 1280 exactly


def test_ingested_records_reach_the_page_figures(engine):
    """Records -> db.ingest -> rollups -> the Usage figures, priced from the same book."""
    from core.costs import Usage, cost
    from core.stats import bucket_index
    from db.ingest import ingest_records
    from db.prices import load_price_book

    def rec(rid, ts, model, inp, out, latency, status=200, **extra):
        base = {"timestamp": ts, "request_id": rid, "model": model, "input_tokens": inp}
        return base | {"output_tokens": out, "latency_ms": latency, "status": status} | extra

    records = [
        rec("r1", "2026-11-02T10:00:00Z", "gpt-4o-mini", 1000, 500, 800, project="search"),
        rec("r2", "2026-11-02T11:00:00Z", "gpt-4o-mini", 2048, 100, 1200, project="search",
            cached_input_tokens=1024, finish_reason="length"),
        rec("r3", "2026-11-03T09:00:00Z", "gpt-4o-mini", 500, 0, 300, status=429,
            error_type="rate_limit_exceeded", project="support"),
        rec("r4", "2026-11-03T09:01:00Z", "mystery-model-x", 100, 10, 200, project="support"),
    ]  # fmt: skip
    report = ingest_records(engine, records, source="test", file_name="t.jsonl", actor=ADMIN)
    assert report.accepted == 4
    rates = load_price_book(engine).price_at("gpt-4o-mini", date(2026, 11, 2))
    expected = (
        cost(Usage(1000, 500), rates).total_usd
        + cost(Usage(2048, 100, cached_input_tokens=1024), rates).total_usd
        + cost(Usage(500, 0), rates).total_usd
    )
    k = queries.usage_report(engine, NOV).kpis
    assert k.cost_usd == expected == report.cost_usd
    assert (k.requests, k.unpriced_requests, k.errors, k.rate_limited) == (4, 1, 1, 1)
    assert k.tokens == (1000 + 2048 + 500 + 100) + (500 + 100 + 10)
    assert k.truncated == 1
    # P95 of {200, 300, 800, 1200} ms lies in the bucket that holds 1200 ms.
    i = int(bucket_index([1200], LATENCY_EDGES_MS)[0])
    assert LATENCY_EDGES_MS[i] <= k.p95_latency_ms <= LATENCY_EDGES_MS[i + 1]
    support = queries.usage_report(engine, UsageFilters(NOV2, NOV3, projects=("support",)))
    assert support.unpriced == {"mystery-model-x": 1}
    assert support.kpis.cost_usd == cost(Usage(500, 0), rates).total_usd


def _ingest_one_model_under_three_names(engine: Engine) -> None:
    """gpt-4o logged as gpt-4o, gpt-4o-2024-08-06 and openai/gpt-4o; one gpt-4o-mini call."""
    from db.ingest import ingest_records

    def rec(rid: str, ts: str, model: str, inp: int, out: int, cached: int = 0) -> dict:
        return {"timestamp": ts, "request_id": rid, "model": model, "input_tokens": inp,
                "cached_input_tokens": cached, "output_tokens": out, "latency_ms": 900}  # fmt: skip

    records = [
        rec("a", "2026-11-02T10:00:00Z", "gpt-4o", 1_000_000, 100_000),
        rec("b", "2026-11-03T10:00:00Z", "gpt-4o-2024-08-06", 2_000_000, 200_000, 500_000),
        rec("c", "2026-11-03T11:00:00Z", "openai/gpt-4o", 400_000, 0),
        rec("d", "2026-11-03T12:00:00Z", "gpt-4o-mini", 1_000_000, 0),
    ]
    assert (
        ingest_records(engine, records, source="t", file_name="t.jsonl", actor=ADMIN).accepted == 4
    )


# gpt-4o at $2.50 input, $1.25 cached input, $10 output per 1M tokens:
# a 1M x 2.50 + 0.1M x 10 = $3.50; b 1.5M x 2.50 + 0.5M x 1.25 + 0.2M x 10 = $6.375;
# c 0.4M x 2.50 = $1.00 -> gpt-4o $10.875. gpt-4o-mini: 1M x $0.15 = $0.15.
T = 10**12


def test_one_model_logged_under_several_names_is_one_row(engine):
    _ingest_one_model_under_three_names(engine)
    assert queries.filter_values(engine).models == ["gpt-4o", "gpt-4o-mini"]
    report = queries.usage_report(engine, NOV)
    models = report.models.set_index("model_id")
    assert models.loc["gpt-4o", ["requests", "cost_pusd", "logged_names"]].tolist() == [
        3,
        10_875 * T // 1000,
        3,
    ]
    assert models.loc["gpt-4o-mini", "cost_pusd"] == 150 * T // 1000
    assert list(models.index) == ["gpt-4o", "gpt-4o-mini"]  # most expensive first
    daily = report.daily.set_index(["day", "model_id"])
    assert daily.loc[(NOV3, "gpt-4o"), ["requests", "cost_pusd"]].tolist() == [2, 7_375 * T // 1000]
    latency = report.latency.set_index(["day", "model_id"])
    assert latency.loc[(NOV3, "gpt-4o"), "requests"] == 2
    assert set(report.audit.by_model["model_id"]) <= {"gpt-4o", "gpt-4o-mini"}


def test_the_drill_down_shows_each_logged_name(engine):
    _ingest_one_model_under_three_names(engine)
    names = queries.usage_report(engine, NOV).logged_names
    assert names[["model_id", "model", "requests", "cost_pusd"]].values.tolist() == [
        ["gpt-4o", "gpt-4o-2024-08-06", 1, 6_375 * T // 1000],
        ["gpt-4o", "gpt-4o", 1, 3_500 * T // 1000],
        ["gpt-4o", "openai/gpt-4o", 1, 1_000 * T // 1000],
        ["gpt-4o-mini", "gpt-4o-mini", 1, 150 * T // 1000],
    ]


def test_a_model_filter_takes_every_logged_name(engine):
    _ingest_one_model_under_three_names(engine)
    filters = UsageFilters(NOV2, NOV3, models=("gpt-4o",))
    k = queries.usage_report(engine, filters).kpis
    assert (k.requests, k.cost_usd) == (3, Decimal("10.875"))
    assert k.p95_latency_ms is not None  # the histograms are keyed by the canonical id
    hist = queries.latency_histogram(engine, UsageFilters(NOV3, NOV3, projects=("",)))
    assert hist.groupby("model_id")["count"].sum().to_dict() == {"gpt-4o": 2, "gpt-4o-mini": 1}
    output = queries.output_histogram(engine, filters)
    assert set(output["model_id"]) == {"gpt-4o"} and output["count"].sum() == 3
