"""Who spent it beyond project and model, on SQLite and PostgreSQL, checked by hand: key label,
team, environment and tags stored from a small log, split (records without one as the
unallocated line), filtered, scoped by budgets, the top-users rollup and the runaway rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from core.alerts import RUNAWAY
from core.rollups import OTHER_USERS
from db import queries
from db.budgets import BudgetError, check_scope, daily_spend, list_rules, save_rule
from db.budgets.scopes import scope_table
from db.budgets.spend import SPEND_ROLLUPS
from db.ingest import ingest_records
from db.ingest import rollups as stored_rollups
from db.models import RequestLog, UserRollup
from db.queries.attribution import spend_by
from db.queries.common import UsageFilters, filter_values, usage_table
from integrations.alerting import rule_alerts_at
from tests.actors import ADMIN

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
PICO = Decimal(10) ** 12
# gpt-4o-mini: $0.15 in / $0.60 out per million tokens.
#   a: 1,000,000 in + 0 out = $0.15        b: 0 in + 1,000,000 out = $0.60
#   c: 2,000,000 in          = $0.30        d: 100,000 in + 100,000 out = $0.075
LOG = [
    {"request_id": "a", "input_tokens": 1_000_000, "output_tokens": 0, "user": "cust-42",
     "key_label": "support-prod", "team": "support", "environment": "prod",
     "tags": ["support", "team=search"]},
    {"request_id": "b", "input_tokens": 0, "output_tokens": 1_000_000, "user": "cust-42",
     "metadata": {"key_label": "support-prod", "team": "support", "environment": "prod"},
     "tags": {"team": "search"}},
    {"request_id": "c", "input_tokens": 2_000_000, "output_tokens": 0, "user": "cust-7",
     "key_label": "batch-dev", "team": "search", "environment": "dev", "tags": "support"},
    {"request_id": "d", "input_tokens": 100_000, "output_tokens": 100_000},
]  # fmt: skip


def load(engine: Engine) -> None:
    records = [{"timestamp": "2026-03-02T10:00:00Z", "model": "gpt-4o-mini", **r} for r in LOG]
    report = ingest_records(engine, records, source="t", file_name="dims.jsonl", actor=ADMIN)
    assert report.accepted == len(LOG), report.errors


def split(engine: Engine, dim: str, filters: UsageFilters | None = None) -> dict[str, Decimal]:
    frame = spend_by(engine, [dim], *MARCH, filters)
    return {row[dim]: Decimal(int(row["cost_pusd"])) / PICO for _, row in frame.iterrows()}


def test_stored_rows_carry_the_dimensions(engine: Engine) -> None:
    load(engine)
    table = RequestLog.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.request_id, table.c.key_label, table.c.team, table.c.environment,
                   table.c.tags).order_by(table.c.request_id)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("a", "support-prod", "support", "prod", "support,team=search"),
        ("b", "support-prod", "support", "prod", "team=search"),
        ("c", "batch-dev", "search", "dev", "support"),
        ("d", "", "", "", ""),
    ]


@pytest.mark.parametrize(
    ("dim", "expected"),
    [
        ("key", {"support-prod": "0.75", "batch-dev": "0.30", "": "0.075"}),
        ("team", {"support": "0.75", "search": "0.30", "": "0.075"}),
        ("environment", {"prod": "0.75", "dev": "0.30", "": "0.075"}),
        # a request counts under each of its tags: a is under both support and team=search
        ("tag", {"support": "0.45", "team=search": "0.75", "": "0.075"}),
        ("tag:team", {"search": "0.75", "": "0.375"}),
        ("user", {"cust-42": "0.75", "cust-7": "0.30", "": "0.075"}),
    ],
)
def test_spend_by_every_dimension(engine: Engine, dim: str, expected: dict[str, str]) -> None:
    load(engine)
    assert split(engine, dim) == {k: Decimal(v) for k, v in expected.items()}


def test_filters_on_the_dimensions(engine: Engine) -> None:
    load(engine)
    assert split(engine, "model", UsageFilters(*MARCH, tags=("support",))) == {
        "gpt-4o-mini": Decimal("0.45")
    }
    assert split(engine, "team", UsageFilters(*MARCH, environments=("prod", "dev"))) == {
        "support": Decimal("0.75"),
        "search": Decimal("0.30"),
    }
    by_key = UsageFilters(*MARCH, key_labels=("batch-dev",))
    assert split(engine, "user", by_key) == {"cust-7": Decimal("0.30")}
    values = filter_values(engine)
    assert values.tags == ["support", "team=search"]
    assert (values.teams, values.environments) == (["", "search", "support"], ["", "dev", "prod"])


def test_usage_totals_narrow_on_the_rollup_that_holds_the_dimension(engine: Engine) -> None:
    """Tag filters read the daily rollup (tag sets); key, team and environment filters the
    usage rollup; both give the hand-computed sums above."""
    load(engine)

    def spend(filters: UsageFilters) -> tuple[str, Decimal, int]:
        kpis = queries.kpis(engine, filters)
        names = queries.model_names(engine, filters)
        assert Decimal(int(names["cost_pusd"].sum())) / PICO == kpis.cost_usd
        return usage_table(filters).name, kpis.cost_usd, kpis.requests

    assert spend(UsageFilters(*MARCH)) == ("model_daily", Decimal("1.125"), 4)
    assert spend(UsageFilters(*MARCH, tags=("support",))) == ("daily_rollup", Decimal("0.45"), 2)
    assert spend(UsageFilters(*MARCH, environments=("prod",))) == (
        "usage_daily", Decimal("0.75"), 2,
    )  # fmt: skip
    assert spend(UsageFilters(*MARCH, teams=("search",), tags=("support",))) == (
        "daily_rollup", Decimal("0.30"), 1,
    )  # fmt: skip
    daily = queries.daily_by_model(engine, UsageFilters(*MARCH, key_labels=("batch-dev",)))
    assert daily[["model_id", "requests", "cost_pusd"]].values.tolist() == [
        ["gpt-4o-mini", 1, 300_000_000_000]
    ]


def test_budget_scopes_on_every_dimension(engine: Engine) -> None:
    load(engine)
    day = date(2026, 3, 2)
    for scope, usd in [
        ("user:cust-42", "0.75"),
        ("tag:support", "0.45"),
        ("tag:team=search", "0.75"),
        ("key:support-prod", "0.75"),
        ("team:search", "0.30"),
        ("env:prod", "0.75"),
        ("all", "1.125"),  # 0.15 + 0.60 + 0.30 + 0.075
        ("model:gpt-4o-mini-2024-07-18", "1.125"),
        ("provider:openai", "1.125"),
    ]:
        assert daily_spend(engine, scope, *MARCH) == {day: Decimal(usd)}, scope
    # each scope is read from the smallest table holding its column
    read = {
        scope: scope_table(scope, SPEND_ROLLUPS, RequestLog.__table__).name
        for scope in ("all", "model:m", "provider:p", "project:p", "key:k", "feature:f", "tag:t",
                      "user:u")
    }  # fmt: skip
    assert read == {
        "all": "model_daily", "model:m": "model_daily", "provider:p": "model_daily",
        "project:p": "usage_daily", "key:k": "usage_daily", "feature:f": "feature_daily",
        "tag:t": "daily_rollup", "user:u": "request_log",
    }  # fmt: skip
    assert str(check_scope(engine, "env:prod")) == "environment:prod"
    assert str(check_scope(engine, "user:cust-42")) == "user:cust-42"
    with pytest.raises(BudgetError, match=r"no tag named 'team=serch'.*team=search"):
        check_scope(engine, "tag:team=serch")
    with pytest.raises(BudgetError, match="no key named 'nope'"):
        check_scope(engine, "key:nope")


def test_the_user_rollup_keeps_the_top_users_and_sums_the_rest(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored_rollups, "TOP_USERS", 1)
    load(engine)
    table = UserRollup.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.user, table.c.requests, table.c.cost_pusd)).all()
    assert sorted((u, n, Decimal(c) / PICO) for u, n, c in rows) == [
        ("", 1, Decimal("0.075")),
        (OTHER_USERS, 1, Decimal("0.30")),
        ("cust-42", 2, Decimal("0.75")),
    ]
    capped = spend_by(engine, ["user"], *MARCH, capped=True)
    assert set(capped["user"]) == {"", OTHER_USERS, "cust-42"}
    assert split(engine, "user")["cust-7"] == Decimal("0.30")  # exact, from the rows


def test_runaway_rule_names_the_offender(engine: Engine) -> None:
    load(engine)
    rule = save_rule(
        engine,
        kind=RUNAWAY,
        params={"dimension": "user", "max_usd": "0.50", "min_spend_usd": "0.01"},
        enabled=True,
        scope="all",
        actor=ADMIN,
    )
    alerts = rule_alerts_at(engine, rule, datetime(2026, 3, 2, 23, tzinfo=UTC))
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.kind, alert.value, alert.threshold, alert.period) == (
        RUNAWAY,
        Decimal("0.75"),
        Decimal("0.50"),
        "2026-03-02T11:00Z",  # the first 24 h window holding the 10:00 requests ends at 11:00
    )
    assert "user 'cust-42' ($0.75)" in alert.message and "cust-7" not in alert.message
    by_median = save_rule(
        engine,
        kind=RUNAWAY,
        params={"dimension": "key", "median_factor": "2", "min_members": "2",
                "min_spend_usd": "0"},
        enabled=True,
        scope="team:search",
        actor=ADMIN,
    )  # fmt: skip
    # team search: one key only (batch-dev, $0.30): the median is itself, 2x is $0.60
    assert rule_alerts_at(engine, by_median, datetime(2026, 3, 3, tzinfo=UTC)) == []
    with pytest.raises(BudgetError, match="watches one of"):
        save_rule(engine, kind=RUNAWAY, params={"dimension": "planet"}, enabled=True,
                  scope="all", actor=ADMIN)  # fmt: skip
    assert any(r.kind == RUNAWAY for r in list_rules(engine))


def test_the_drill_down_keeps_the_dimension_filters(engine: Engine) -> None:
    from db.queries.drilldown import Drill, drill_totals, rollup_requests

    load(engine)
    day = date(2026, 3, 2)
    search = Drill(day, day, teams=("search",))  # only c: 2,000,000 in = $0.30
    totals = drill_totals(engine, search)
    assert (totals.requests, Decimal(totals.cost_pusd) / PICO) == (1, Decimal("0.30"))
    assert rollup_requests(engine, search) == 1
    tagged = Drill(day, day, tags=("team=search",), environments=("prod",))  # a and b
    assert Decimal(drill_totals(engine, tagged).cost_pusd) / PICO == Decimal("0.75")


def test_the_user_sums_name_the_user_rollups_columns_in_order() -> None:
    # an ingest's own sums per day and user become user-rollup rows as they are (cost last,
    # which `top_users` ranks by)
    from core.rollups import USER_KEY, USER_SUMS

    columns = tuple(c.name for c in UserRollup.__table__.columns if c.name not in USER_KEY)
    assert columns == USER_SUMS
    assert USER_SUMS[-1] == "cost_pusd"
