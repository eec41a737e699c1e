"""A budget set in another currency, on SQLite and PostgreSQL: spend is compared at the rate
in force on each check's day, alerts name the currency, and a missing rate is said, not raised.

Rates: 1 USD = 0.90 EUR from 2026-01-01, 0.95 EUR from 2026-01-20. A EUR 90 budget with $95
spent on Jan 5 has used 95 x 0.90 = 85.50 EUR (95.00 %) on Jan 19, and 95 x 0.95 = 90.25 EUR
(100.28 %) from Jan 20 on.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from db.audit import list_events
from db.budgets import BudgetError, budget_overview, get_budget, save_rule, set_budget
from db.fx import record_rate
from integrations.alerting import check_alerts
from tests.actors import ADMIN
from tests.rows import insert_rollup

D = Decimal


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def eur_budget(engine: Engine) -> Engine:
    for per_usd, day in (("0.90", date(2026, 1, 1)), ("0.95", date(2026, 1, 20))):
        record_rate(engine, currency="EUR", per_usd=per_usd, effective_on=day, actor=ADMIN)
    set_budget(engine, name="Team", amount="90", currency="eur", thresholds="90,100",
               forecast_alert=False, actor=ADMIN)  # fmt: skip
    save_rule(engine, kind="cost_spike", params={}, enabled=False, actor=ADMIN)
    row = {"day": date(2026, 1, 5), "model": "acme-1", "model_id": "acme-1", "project": "",
           "feature": "", "requests": 10, "cost_pusd": 95 * 10**12}  # fmt: skip
    with engine.begin() as conn:
        insert_rollup(conn, [row])
    return engine


def test_a_budget_keeps_its_currency(eur_budget: Engine) -> None:
    budget = get_budget(eur_budget, "Team")
    assert (budget.amount, budget.currency) == (D(90), "EUR")
    with pytest.raises(BudgetError, match="set in EUR"):
        budget.amount_usd  # noqa: B018 - a EUR budget has no fixed USD amount
    with pytest.raises(BudgetError, match="three-letter code"):
        set_budget(eur_budget, name="X", amount="5", currency="euro", actor=ADMIN)
    saved = json.loads(list_events(eur_budget, ADMIN, action="budget.save")["after"].iloc[0])
    assert (saved["amount_eur"], saved["currency"]) == ("90", "EUR")


def test_the_rate_of_the_checks_day_decides_the_threshold(eur_budget: Engine) -> None:
    before = check_alerts(eur_budget, at("2026-01-19T12:00:00"), actor=ADMIN)
    assert [(a.threshold, a.value) for a in before.firing] == [(D(90), D("95.00"))]
    assert "(85.50 EUR of 90.00 EUR at 1 USD = 0.9 EUR (rate of 2026-01-01))" in (
        before.firing[0].message
    )
    after = check_alerts(eur_budget, at("2026-01-20T12:00:00"), actor=ADMIN)
    assert [(a.threshold, a.value) for a in after.firing] == [
        (D(90), D("100.28")),
        (D(100), D("100.28")),
    ]
    assert "(90.25 EUR of 90.00 EUR at 1 USD = 0.95 EUR (rate of 2026-01-20))" in (
        after.firing[1].message
    )
    status = budget_overview(eur_budget, get_budget(eur_budget, "Team"), at("2026-01-20T12:00:00"))
    assert status.spent_usd == D(95) and status.used_pct == D("100.28")
    assert status.conversion.rate.per_usd == D("0.95")


def test_no_rate_yet_is_said_not_raised(eur_budget: Engine) -> None:
    budget = get_budget(eur_budget, "Team")
    with pytest.raises(BudgetError, match="no EUR rate dated on or before 2025-12-31"):
        budget_overview(eur_budget, budget, at("2025-12-31T12:00:00"))
    result = check_alerts(eur_budget, at("2025-12-31T12:00:00"), actor=ADMIN)
    assert result.firing == []
    assert len(result.problems) == 1 and "Budget 'Team' is set in EUR" in result.problems[0]
