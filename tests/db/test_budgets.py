"""Budgets, rules and events on SQLite and PostgreSQL: CRUD, spend by scope, once per period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event

from db.budgets import (
    BudgetError,
    acknowledge_event,
    budget_overview,
    daily_spend,
    delete_budget,
    get_budget,
    list_budgets,
    list_events,
    list_rules,
    mute_budget,
    save_rule,
    set_budget,
    window_metrics,
    window_series,
)
from db.ingest import ingest_records
from db.models import DailyRollup
from db.prices import save_override
from integrations.alerting import check_alerts, evaluate, rule_alerts_at
from tests.actors import ADMIN
from tests.rows import insert_rollup

D = Decimal
PUSD = 10**12


def add_spend(engine: Engine, spend: dict[date, Decimal], **key: str) -> None:
    """One rollup row per day with the given USD cost (project/model/feature from `key`).

    The models here are unknown to the price book, so each is its own canonical id.
    """
    model = key.get("model", "acme-1")
    rows = [
        {"day": d, "model": model, "model_id": model, "project": key.get("project", ""),
         "feature": key.get("feature", ""), "tags": key.get("tags", ""),
         "requests": 10, "cost_pusd": int(usd * PUSD)}
        for d, usd in spend.items()
    ]  # fmt: skip
    with engine.begin() as conn:
        insert_rollup(conn, rows)


def days(start: date, end: date, usd: str) -> dict[date, Decimal]:
    return {start + timedelta(days=i): D(usd) for i in range((end - start).days + 1)}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_budget_crud(engine: Engine) -> None:
    add_spend(engine, {date(2026, 3, 1): D(1)}, project="search")
    b = set_budget(
        engine,
        name="Search",
        amount_usd="1,500.50",
        scope="project:search",
        thresholds="90,50",
        actor=ADMIN,
    )
    assert (b.amount_usd, b.scope, b.thresholds_pct, b.timezone) == (
        D("1500.5"),
        "project:search",
        (50, 90),
        "UTC",
    )
    again = set_budget(engine, name="Search", amount_usd=800, timezone="Europe/Berlin", actor=ADMIN)
    assert (
        again.id == b.id
        and again.amount_usd == D(800)
        and again.thresholds_pct == (50, 75, 90, 100)
    )
    set_budget(engine, name="All", amount_usd=5000, actor=ADMIN)
    assert [x.name for x in list_budgets(engine)] == ["All", "Search"]
    with pytest.raises(BudgetError, match="already called"):
        set_budget(engine, name="All", amount_usd=1, budget_id=b.id, actor=ADMIN)
    renamed = set_budget(engine, name="Search v2", amount_usd=900, budget_id=b.id, actor=ADMIN)
    assert renamed.id == b.id and get_budget(engine, "Search") is None
    assert delete_budget(engine, "Search v2", actor=ADMIN) and not delete_budget(
        engine, "Search v2", actor=ADMIN
    )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("amount_usd", "-5", "above \\$0"),
        ("amount_usd", "lots", "not a number"),
        ("scope", "squad:x", "Scope"),
        ("timezone", "Mars/Base", "Unknown timezone"),
        ("thresholds", "50,abc", "whole percents"),
        ("thresholds", "0,50", "between 1 and 1000"),
        ("name", "  ", "needs a name"),
        ("name", "Ops\nBcc: x@evil.test", "control characters"),
        ("name", "Ops\tteam", "control characters"),
        ("name", "Ops\u2028team", "control characters"),
        ("scope", "project:a\nb", "control characters"),
    ],
)
def test_budget_validation(sqlite_url: str, field: str, value: str, match: str) -> None:
    from db.engine import make_engine

    args = {"name": "B", "amount_usd": "100", "scope": "all", "thresholds": None, "timezone": "UTC"}
    args["actor"] = ADMIN
    args[field] = value
    with pytest.raises(BudgetError, match=match):
        set_budget(make_engine(sqlite_url), **args)


def test_daily_spend_by_scope(engine: Engine) -> None:
    add_spend(
        engine,
        {date(2026, 3, 1): D("1.25")},
        project="search",
        model="acme-1",
        feature="chat",
        tags="chat,team=search",
    )
    add_spend(engine, {date(2026, 3, 1): D("2.00")}, project="mail", model="acme-2")
    add_spend(engine, {date(2026, 3, 2): D("0.000001")}, project="search", model="acme-2")
    span = (date(2026, 3, 1), date(2026, 3, 31))
    assert daily_spend(engine, "all", *span) == {
        date(2026, 3, 1): D("3.25"),
        date(2026, 3, 2): D("0.000001"),
    }
    assert daily_spend(engine, "project:search", *span)[date(2026, 3, 1)] == D("1.25")
    assert daily_spend(engine, "model:acme-2", *span) == {
        date(2026, 3, 1): D(2),
        date(2026, 3, 2): D("0.000001"),
    }
    assert daily_spend(engine, "tag:chat", *span) == {date(2026, 3, 1): D("1.25")}
    assert daily_spend(engine, "tag:team = search", *span) == {date(2026, 3, 1): D("1.25")}
    assert daily_spend(engine, "tag:team", *span) == {}  # a key alone is not its tag
    assert daily_spend(engine, "feature:chat", *span) == {date(2026, 3, 1): D("1.25")}


def test_budget_overview_from_rollups(engine: Engine) -> None:
    add_spend(engine, days(date(2026, 2, 10), date(2026, 3, 19), "20"), project="x")
    add_spend(engine, days(date(2026, 3, 1), date(2026, 3, 19), "99"), project="other")
    budget = set_budget(engine, name="X", amount_usd=1000, scope="project:x", actor=ADMIN)
    status = budget_overview(engine, budget, at("2026-03-20T12:00:00"))
    # Mar 1..19 = 19 × 20 = 380; forecast = 380 + today 20 + 11 × 20 = 620; 500 reached Mar 25
    assert status.spent_usd == D(380) and status.used_pct == D("38.00")
    assert status.forecast.forecast_usd == D("620.00")
    assert status.crossings == {50: date(2026, 3, 25), 75: None, 90: None, 100: None}


def _events(engine: Engine) -> list[tuple[str, str, Decimal]]:
    return sorted((e.key, e.period, e.threshold) for e in list_events(engine))


def test_threshold_fires_once_per_month_across_the_boundary(engine: Engine) -> None:
    set_budget(
        engine, name="Team", amount_usd=100, thresholds="50,100", forecast_alert=False, actor=ADMIN
    )
    save_rule(engine, kind="cost_spike", params={}, enabled=False, actor=ADMIN)
    add_spend(engine, days(date(2026, 3, 1), date(2026, 3, 31), "2"))  # March total 62
    first = check_alerts(
        engine, at("2026-03-20T09:00:00"), actor=ADMIN
    )  # 40 spent: nothing yet (forecast 62)
    assert first.firing == [] and first.new_event_ids == []
    second = check_alerts(engine, at("2026-03-26T09:00:00"), actor=ADMIN)  # 52 spent
    assert [(a.kind, a.threshold, a.value) for a in second.firing] == [
        ("budget", D(50), D("52.00"))
    ]
    assert len(second.new_event_ids) == 1
    third = check_alerts(
        engine, at("2026-03-31T23:00:00"), actor=ADMIN
    )  # still firing, stored already
    assert len(third.firing) == 1 and third.new_event_ids == []
    april = check_alerts(engine, at("2026-04-02T09:00:00"), actor=ADMIN)  # new month, nothing spent
    assert april.firing == []
    add_spend(engine, days(date(2026, 4, 1), date(2026, 4, 2), "30"))  # 60 in April
    april = check_alerts(engine, at("2026-04-02T10:00:00"), actor=ADMIN)
    assert len(april.new_event_ids) == 1
    assert _events(engine) == [
        ("budget:Team:50", "2026-03", D(50)),
        ("budget:Team:50", "2026-04", D(50)),
    ]


def test_month_starts_in_the_budgets_timezone(engine: Engine) -> None:
    set_budget(engine, name="Tokyo", amount_usd=100, thresholds="50", timezone="Asia/Tokyo",
               forecast_alert=False, actor=ADMIN)  # fmt: skip
    set_budget(
        engine, name="Utc", amount_usd=100, thresholds="50", forecast_alert=False, actor=ADMIN
    )
    save_rule(engine, kind="cost_spike", params={}, enabled=False, actor=ADMIN)
    add_spend(engine, days(date(2026, 3, 1), date(2026, 3, 30), "2"))  # 60 in March
    # 14:00 UTC = 23:00 in Tokyo on Mar 31: both budgets are in March, both at 60 %
    march = check_alerts(engine, at("2026-03-31T14:00:00"), actor=ADMIN)
    assert sorted((a.subject, a.period) for a in march.firing) == [
        ("Tokyo", "2026-03"),
        ("Utc", "2026-03"),
    ]
    # 16:00 UTC = 01:00 on Apr 1 in Tokyo: a new, empty month there; still March in UTC
    later = check_alerts(engine, at("2026-03-31T16:00:00"), actor=ADMIN)
    assert [(a.subject, a.period) for a in later.firing] == [("Utc", "2026-03")]
    assert later.new_event_ids == []
    add_spend(engine, {date(2026, 4, 1): D(55)})
    april = check_alerts(engine, at("2026-04-01T02:00:00"), actor=ADMIN)
    assert sorted((a.subject, a.period) for a in april.firing) == [
        ("Tokyo", "2026-04"),
        ("Utc", "2026-04"),
    ]
    assert len(april.new_event_ids) == 2
    assert len(list_events(engine)) == 4


def test_muted_budget_is_reported_not_stored(engine: Engine) -> None:
    set_budget(
        engine, name="Team", amount_usd=10, thresholds="50", forecast_alert=False, actor=ADMIN
    )
    add_spend(engine, {date(2026, 3, 1): D(9)})
    mute_budget(engine, "Team", at("2026-03-05T00:00:00"), actor=ADMIN)
    muted = check_alerts(engine, at("2026-03-02T00:00:00"), actor=ADMIN)
    assert muted.firing == [] and len(muted.muted) == 1 and muted.new_event_ids == []
    after = check_alerts(engine, at("2026-03-06T00:00:00"), actor=ADMIN)
    assert len(after.firing) == 1 and len(after.new_event_ids) == 1


def test_acknowledge_and_filter_history(engine: Engine) -> None:
    set_budget(
        engine, name="A", amount_usd=10, thresholds="50,90", forecast_alert=False, actor=ADMIN
    )
    set_budget(engine, name="B", amount_usd=100, thresholds="5", forecast_alert=False, actor=ADMIN)
    add_spend(engine, {date(2026, 3, 1): D(9)})
    check_alerts(engine, at("2026-03-01T12:00:00"), actor=ADMIN)
    events = list_events(engine)
    assert len(events) == 3
    assert {e.subject for e in list_events(engine, subjects=("A",))} == {"A"}
    assert acknowledge_event(engine, events[0].id, at("2026-03-01T13:00:00"), actor=ADMIN)
    assert len(list_events(engine, acknowledged=False)) == 2
    assert list_events(engine, acknowledged=True)[0].acknowledged_at == at("2026-03-01T13:00:00")
    assert list_events(engine, since=at("2026-03-02T00:00:00")) == []
    assert not acknowledge_event(engine, 99999, actor=ADMIN)


def _ingest_window(engine: Engine, errors: int, total: int = 40) -> None:
    save_override(engine, model="acme-1", effective_from=date(2020, 1, 1),
                  rates={"input_mtok": D(1), "output_mtok": D(2)}, actor=ADMIN)  # fmt: skip
    records = [
        {"timestamp": f"2026-03-10T10:{i:02d}:00Z", "request_id": f"r{i}", "model": "acme-1",
         "input_tokens": 1000, "output_tokens": 100, "latency_ms": 8000 if i % 2 else 900,
         "status": (429 if i % 3 else 500) if i < errors else 200, "project": "search"}
        for i in range(total)
    ]  # fmt: skip
    report = ingest_records(engine, records, source="test", file_name="window.jsonl", actor=ADMIN)
    assert report.accepted == total


def test_window_metrics_from_request_log(engine: Engine) -> None:
    _ingest_window(engine, errors=6)
    m = window_metrics(
        engine, "project:search", at("2026-03-10T10:00:00"), at("2026-03-10T10:30:00")
    )
    # rows 10:00..10:29 = 30; errors at i < 6: i = 0, 3 -> 500, i = 1, 2, 4, 5 -> 429
    assert (m.requests, m.errors, m.rate_limited) == (30, 6, 4)
    assert sum(m.latency_counts) == 30
    assert (
        window_metrics(
            engine, "project:other", at("2026-03-10T10:00:00"), at("2026-03-10T11:00:00")
        ).requests
        == 0
    )


def test_operational_rules_fire_through_the_check(engine: Engine) -> None:
    _ingest_window(engine, errors=6)
    for kind in ("error_rate", "rate_limit"):
        save_rule(engine, kind=kind, params={"min_requests": 20}, actor=ADMIN)
    save_rule(
        engine,
        kind="latency_p95",
        params={"sla_ms": 20000, "window_minutes": 60, "min_requests": 20},
        actor=ADMIN,
    )
    result = check_alerts(engine, at("2026-03-10T10:45:00"), actor=ADMIN)
    # the 10:00 window: 40 requests, 6 errors = 15.00 % > 8 %; 4 × 429 = 10.00 % > 5 %
    got = {a.kind: (a.value, a.threshold) for a in result.firing}
    assert got == {"error_rate": (D("15.00"), D(8)), "rate_limit": (D("10.00"), D(5))}
    assert all(a.period == "2026-03-10T10:00Z" for a in result.firing)
    assert {r.kind: r.rule for r in list_rules(engine)}["latency_p95"].sla_ms == 20000
    again = check_alerts(engine, at("2026-03-10T10:50:00"), actor=ADMIN)
    assert len(again.firing) == 2 and again.new_event_ids == []
    # later in the month the window still fired this period: reported, not stored again
    later = check_alerts(engine, at("2026-03-20T12:00:00"), actor=ADMIN)
    assert len(later.firing) == 2 and later.new_event_ids == []
    assert check_alerts(engine, at("2026-04-02T12:00:00"), actor=ADMIN).firing == []  # a new month


def test_rules_on_one_scope_and_window_share_one_read_of_the_rows(engine: Engine) -> None:
    _ingest_window(engine, errors=6)
    save_rule(engine, kind="error_rate", params={"min_requests": 20}, actor=ADMIN)
    save_rule(engine, kind="rate_limit", params={"min_requests": 20}, actor=ADMIN)
    save_rule(engine, kind="latency_p95",
              params={"sla_ms": 800, "window_minutes": 15, "min_requests": 10}, actor=ADMIN)  # fmt: skip
    as_of = at("2026-03-10T10:45:00")
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "request_log" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        firing, _ = evaluate(engine, as_of)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # hourly windows for the error rate and 429s, quarter hours for latency; the runaway
    # default has no test set and reads nothing
    assert len(reads) == 2
    one_by_one = [
        a for r in list_rules(engine) if r.enabled for a in rule_alerts_at(engine, r, as_of)
    ]
    assert firing == one_by_one
    # the 10:00, 10:15 and 10:30 quarters: half the requests take 8 s, over the 800 ms SLA
    assert sorted(a.period for a in firing if a.kind == "latency_p95") == [
        "2026-03-10T10:00Z", "2026-03-10T10:15Z", "2026-03-10T10:30Z",
    ]  # fmt: skip
    assert {a.kind for a in firing} == {"error_rate", "rate_limit", "latency_p95"}


def test_default_windows_need_a_hundred_requests(engine: Engine) -> None:
    _ingest_window(engine, errors=6)  # 40 requests in the 10:00 window: too few to judge
    assert check_alerts(engine, at("2026-03-10T10:45:00"), actor=ADMIN).firing == []


def test_listing_rules_writes_nothing(engine: Engine) -> None:
    rules = list_rules(engine)
    assert sorted(r.kind for r in rules) == sorted(
        ["cost_spike", "error_rate", "latency_p95", "rate_limit", "runaway"]
    )
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alert_rule").scalar() == 0


def test_window_series_groups_rows_by_clock_window(engine: Engine) -> None:
    _ingest_window(engine, errors=6)
    series = window_series(engine, "all", at("2026-03-10T00:00:00"), at("2026-03-11T00:00:00"), 15)
    # 40 rows at 10:00..10:39, one a minute: 15 + 15 + 10 in the 10:00, 10:15, 10:30 windows;
    # errors at i < 6 all fall in the first; 429 where i % 3 != 0: i = 1, 2, 4, 5
    assert [(m.start, m.requests, m.errors, m.rate_limited) for m in series] == [
        (at("2026-03-10T10:00:00"), 15, 6, 4),
        (at("2026-03-10T10:15:00"), 15, 0, 0),
        (at("2026-03-10T10:30:00"), 10, 0, 0),
    ]
    assert [sum(m.latency_counts) for m in series] == [15, 15, 10]


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("error_rate", {"max_error_pct": "five"}, "not a number"),
        ("latency_p95", {"window_minutes": 0}, "at least 1"),
        ("rate_limit", {"max_count": -1}, "zero or more"),
        ("nope", {}, "Unknown rule"),
    ],
)
def test_rule_validation(sqlite_url: str, kind: str, params: dict, match: str) -> None:
    from db.engine import make_engine

    with pytest.raises(BudgetError, match=match):
        save_rule(make_engine(sqlite_url), kind=kind, params=params, actor=ADMIN)


def test_cost_spike_fires_once_for_the_spike_day(engine: Engine) -> None:
    add_spend(engine, days(date(2026, 3, 1), date(2026, 3, 14), "10"))
    add_spend(engine, {date(2026, 3, 15): D(50)})
    # Mar 16 at 08:00: yesterday (Mar 15) = 50 > max(10 + 3 × 1.4826 × 0, 2 × 10) = 20
    result = check_alerts(engine, at("2026-03-16T08:00:00"), actor=ADMIN)
    (spike,) = [a for a in result.firing if a.kind == "cost_spike"]
    assert (spike.value, spike.threshold, spike.period) == (D("50.00"), D("20.00"), "2026-03-15")
    again = check_alerts(engine, at("2026-03-16T20:00:00"), actor=ADMIN)
    assert again.new_event_ids == []
    # the whole month is the period: the spike still shows two weeks later, stored once
    later = check_alerts(engine, at("2026-03-30T08:00:00"), actor=ADMIN)
    assert [a.period for a in later.firing if a.kind == "cost_spike"] == ["2026-03-15"]
    assert later.new_event_ids == []
    assert [
        a.kind for a in check_alerts(engine, at("2026-04-17T08:00:00"), actor=ADMIN).firing
    ] == []


# ---------------------------------------------------------------- one identity per model


def _ingest_gpt_4o(engine: Engine) -> None:
    """gpt-4o under three logged names, and a gpt-4o-mini call that must not count."""

    def rec(rid: str, day: str, model: str, inp: int, out: int, cached: int = 0) -> dict:
        return {"timestamp": f"2026-03-{day}T10:00:00Z", "request_id": rid, "model": model,
                "input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
                "latency_ms": 900, "project": "copilot"}  # fmt: skip

    records = [
        rec("a", "02", "gpt-4o", 1_000_000, 100_000),
        rec("b", "03", "gpt-4o-2024-08-06", 2_000_000, 200_000, cached=500_000),
        rec("c", "03", "openai/gpt-4o", 400_000, 0),
        rec("d", "03", "gpt-4o-mini", 1_000_000, 0),
    ]
    assert (
        ingest_records(engine, records, source="t", file_name="t.jsonl", actor=ADMIN).accepted == 4
    )


def test_a_model_budget_counts_every_logged_name_of_the_model(engine: Engine) -> None:
    _ingest_gpt_4o(engine)
    # gpt-4o at $2.50 input, $1.25 cached input, $10 output per 1M tokens:
    # a: 1M x 2.50 + 0.1M x 10 = 2.50 + 1.00 = $3.50 (logged as gpt-4o)
    # b: 1.5M x 2.50 + 0.5M x 1.25 + 0.2M x 10 = 3.75 + 0.625 + 2.00 = $6.375 (dated snapshot)
    # c: 0.4M x 2.50 = $1.00 (provider prefix); the gpt-4o-mini call is another model.
    span = (date(2026, 3, 1), date(2026, 3, 31))
    expected = {date(2026, 3, 2): D("3.5"), date(2026, 3, 3): D("7.375")}
    assert daily_spend(engine, "model:gpt-4o", *span) == expected
    assert daily_spend(engine, "model:gpt-4o-2024-08-06", *span) == expected
    budget = set_budget(
        engine, name="4o", amount_usd=20, scope="model:gpt-4o-2024-08-06", actor=ADMIN
    )
    assert budget.scope == "model:gpt-4o"  # one scope, stored by its canonical id
    status = budget_overview(engine, budget, at("2026-03-20T12:00:00"))
    assert status.spent_usd == D("10.875") and status.used_pct == D("54.38")
    assert status.reached == (50,)
    window = window_metrics(
        engine, "model:gpt-4o", at("2026-03-03T00:00:00"), at("2026-03-04T00:00:00")
    )
    assert window.requests == 2  # b and c; d is gpt-4o-mini


def test_a_scope_that_matches_nothing_is_refused_with_a_suggestion(engine: Engine) -> None:
    _ingest_gpt_4o(engine)
    cases = {
        "project:copilott": "no project named 'copilott' has traffic; did you mean copilot?",
        "model:gpt-4x-mini": "no model named 'gpt-4x-mini' has traffic or a price; did you mean",
        "tag:nothing-like-it": "no tag named 'nothing-like-it' has traffic",
        "provider:opneai": "no provider named 'opneai' has traffic or a price; did you mean openai?",
    }
    for scope, message in cases.items():
        with pytest.raises(BudgetError) as caught:
            set_budget(engine, name="B", amount_usd=10, scope=scope, actor=ADMIN)
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
        with pytest.raises(BudgetError, match="has traffic"):
            save_rule(engine, kind="error_rate", params={}, scope=scope, actor=ADMIN)
    assert list_budgets(engine) == []
    assert [r.scope for r in list_rules(engine)] == ["all"] * 5


def test_a_priced_model_without_traffic_is_accepted_with_a_note(engine: Engine) -> None:
    from db.budgets import budget_notes, scope_note

    _ingest_gpt_4o(engine)
    launch = set_budget(
        engine, name="Launch", amount_usd=100, scope="model:gpt-4.1-2025-04-14", actor=ADMIN
    )
    assert launch.scope == "model:gpt-4.1"
    live = set_budget(engine, name="Live", amount_usd=100, scope="project:copilot", actor=ADMIN)
    anthropic = set_budget(
        engine, name="Claude", amount_usd=100, scope="provider:anthropic", actor=ADMIN
    )
    note = "No traffic for model:gpt-4.1 yet: its spend counts from the first request."
    assert scope_note(engine, launch.scope) == note
    assert budget_notes(engine, [launch, live, anthropic]) == {
        launch.id: note,
        anthropic.id: "No traffic for provider:anthropic yet: its spend counts from the first "
        "request.",
    }
    assert budget_overview(engine, launch, at("2026-03-20T12:00:00")).spent_usd == 0
    rule = save_rule(
        engine, kind="error_rate", params={}, scope="model:gpt-4o-2024-08-06", actor=ADMIN
    )
    assert rule.scope == "model:gpt-4o"


def test_an_existing_scope_stays_valid_after_its_traffic_is_gone(engine: Engine) -> None:
    add_spend(engine, {date(2026, 3, 1): D(1)}, project="old")
    set_budget(engine, name="Old", amount_usd=10, scope="project:old", actor=ADMIN)
    with engine.begin() as conn:
        conn.execute(DailyRollup.__table__.delete())
    again = set_budget(engine, name="Old", amount_usd=20, scope="project:old", actor=ADMIN)
    assert (again.amount_usd, again.scope) == (D(20), "project:old")
