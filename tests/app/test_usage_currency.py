"""The Usage page in a display currency: KPIs, tables and charts converted at the rate in
force on the range's last day, with the rate and its date beside them (figures by hand)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.fx import record_rate, set_display_currency
from tests.actors import ADMIN
from tests.app.charts import charts
from tests.app.shown import shown
from tests.rows import insert_rollup

ROOT = Path(__file__).resolve().parents[2]
T = 10**12  # pico-dollars: $1


def _row(day: date, requests: int, cost_pusd: int) -> dict:
    return {
        "day": day, "provider": "openai", "model": "gpt-4o", "model_id": "gpt-4o",
        "project": "search", "feature": "", "batch": False, "status": 200,
        "requests": requests, "unpriced_requests": 0, "input_tokens": 1_000,
        "output_tokens": 100, "cost_pusd": cost_pusd,
    }  # fmt: skip


def _store(url: str, currency: str = "EUR") -> None:
    """$100 on Jan 10 (10 calls), $20 on Jan 22 (5 calls); 1 USD = 0.90 EUR from Jan 1 and
    0.95 EUR from Jan 20."""
    engine = make_engine(url)
    with engine.begin() as conn:
        insert_rollup(
            conn,
            [_row(date(2026, 1, 10), 10, 100 * T), _row(date(2026, 1, 22), 5, 20 * T)],
        )
    record_rate(engine, currency="EUR", per_usd="0.90", effective_on=date(2026, 1, 1), actor=ADMIN)
    record_rate(engine, currency="EUR", per_usd="0.95", effective_on=date(2026, 1, 20), actor=ADMIN)
    set_display_currency(engine, currency=currency, actor=ADMIN)


def _page(start: str, end: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"from": start, "to": end})
    at.run()
    at.switch_page("views/usage.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _captions(at: AppTest) -> list[str]:
    return [shown(c.value) for c in at.caption]


def test_kpis_in_eur_at_the_rate_of_the_range_end(app_db: str) -> None:
    _store(app_db)
    at = _page("2026-01-01", "2026-01-25")
    kpis = _metrics(at)
    assert kpis["Spend"] == "114.00 EUR"  # $120 x 0.95 (the rate from Jan 20)
    assert kpis["Month to date"] == "114.00 EUR"
    assert kpis["Avg cost / request"] == "7.6000 EUR"  # $120 / 15 = $8 x 0.95
    assert "Figures in EUR: 1 USD = 0.95 EUR (rate of 2026-01-20)" in _captions(at)
    tables = [d.value for d in at.dataframe if "Spend (EUR)" in d.value.columns]
    assert [t["Spend (EUR)"].tolist() for t in tables] == [[114.0], [114.0]]  # model, project
    daily, projects = charts(at)
    # one rate for the page (0.95, the range end's): $100 -> 95 EUR, $20 -> 19 EUR
    assert daily.rows["spend"].tolist() == pytest.approx([95.0, 19.0])
    y = daily.spec["encoding"]["y"]["axis"]
    assert y["title"] == "EUR" and y["labelExpr"].endswith("+ ' EUR'") and "format" not in y
    assert y["values"] == [0, 20, 40, 60, 80, 100]  # round ticks over the 95 EUR day
    (spend,) = [t for t in daily.spec["encoding"]["tooltip"] if t["field"] == "spend"]
    assert (spend["title"], spend["format"]) == ("Spend (EUR)", ",.2f")  # no $ on euros
    ends = next(frame for frame in projects.datasets.values() if "total" in frame.columns)
    assert ends["total"].tolist() == ["114.00 EUR"]
    assert "$" not in projects.text().replace("$schema", "")
    at.session_state["usage_section"] = "Tokens & caching"
    at.run()
    saved = charts(at)[1].spec["layer"][0]["encoding"]
    assert saved["y"]["axis"]["title"] == "EUR saved"
    assert saved["y"]["axis"]["labelExpr"].endswith("+ ' EUR'")
    assert [t["title"] for t in saved["tooltip"]] == ["Day", "Saved (EUR)"]


def test_an_earlier_range_uses_the_earlier_rate(app_db: str) -> None:
    _store(app_db)
    at = _page("2026-01-01", "2026-01-15")
    assert _metrics(at)["Spend"] == "90.00 EUR"  # $100 x 0.90
    assert "Figures in EUR: 1 USD = 0.9 EUR (rate of 2026-01-01)" in _captions(at)


def test_who_spent_it_in_eur(app_db: str) -> None:
    _store(app_db)
    at = _page("2026-01-01", "2026-01-25")
    at.session_state["usage_section"] = "Who spent it"
    at.run()
    (table,) = [d.value for d in at.dataframe if "Cost (EUR)" in d.value.columns]
    assert table["Cost (EUR)"].tolist() == [pytest.approx(114.0)]


def test_a_currency_without_a_rate_says_so_and_shows_usd(app_db: str) -> None:
    _store(app_db, currency="GBP")
    at = _page("2026-01-01", "2026-01-25")
    assert _metrics(at)["Spend"] == "$120.00"
    # the range stops at the last day with data, Jan 22
    assert "no GBP rate dated on or before 2026-01-22" in shown(at.warning[0].value)
    assert not any("Figures in GBP" in c for c in _captions(at))


def test_usd_pages_show_no_rate(app_db: str) -> None:
    _store(app_db, currency="USD")
    at = _page("2026-01-01", "2026-01-25")
    assert _metrics(at)["Spend"] == "$120.00"
    assert not any("Figures in" in c for c in _captions(at))
    assert [d for d in at.dataframe if "Spend (USD)" in d.value.columns]


def test_the_users_and_requests_tab_shows_the_display_currency(app_db: str) -> None:
    from db.ingest import ingest_records
    from ui.drilldown import SECTION

    engine = make_engine(app_db)
    # gpt-4o-mini at $0.15 per 1M input tokens: 1,000,000 in = $0.15 = 0.1425 EUR at 0.95,
    # shown to the cent as the page shows dollars: 0.14 EUR
    record = {"timestamp": "2026-01-22T09:00:00Z", "request_id": "r1", "model": "gpt-4o-mini",
              "user": "cust-42", "input_tokens": 1_000_000, "output_tokens": 0}  # fmt: skip
    assert ingest_records(engine, [record], source="t", file_name="t.jsonl", actor=ADMIN).accepted
    record_rate(engine, currency="EUR", per_usd="0.95", effective_on=date(2026, 1, 20), actor=ADMIN)
    set_display_currency(engine, currency="EUR", actor=ADMIN)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"from": "2026-01-20", "to": "2026-01-25", "usage_section": SECTION})
    at.run()
    at.switch_page("views/usage.py").run()
    assert not at.exception, [e.value for e in at.exception]
    spends = [m.value for m in at.metric if m.label == "Spend"]
    assert spends[-1] == "0.14 EUR"  # the drill-down's own card, after the KPI card
    users = next(df.value for df in at.dataframe if "User" in df.value.columns)
    assert list(users["Spend"]) == ["0.14 EUR"]
    assert any("0.95 EUR" in c for c in _captions(at))
