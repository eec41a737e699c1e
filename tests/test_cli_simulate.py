"""`python cli.py simulate`: the JSON of the CLI contract and exit codes 0 / 2."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from cli import app
from db.engine import make_engine
from db.ingest.rollups import rebuild
from db.models import RequestLog
from tests.rows import with_keys

RULE = "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.5,escalation=0.1"


@pytest.fixture
def db(sqlite_url: str) -> str:
    """Ten gpt-4o requests of 1,600 in / 400 out on 2025-05-01 and 02, one long prompt."""
    rows = [
        {
            "ts": datetime(2025, 5, 1 + i % 2, 9, tzinfo=UTC),
            "day": date(2025, 5, 1 + i % 2),
            "source": "cli-test",
            "request_id": f"r{i}",
            "model": "gpt-4o-2024-08-06",
            "model_id": "gpt-4o",  # as ingest stores it
            "input_tokens": 1600 if i < 10 else 9000,
            "output_tokens": 400,
        }
        for i in range(11)
    ]
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(RequestLog.__table__), with_keys(rows))
        rebuild(conn)  # the rollups of rows stored outside an ingest
    return sqlite_url


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the CLI; returns exit code, stdout and stderr."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_simulate_json_contract(db: str) -> None:
    code, out, _ = invoke("simulate", "--rule", RULE, "--db", db, "--json")
    assert code == 0
    data = json.loads(out)
    # Matched: 10 x (1,600 in, 400 out) on gpt-4o = 16,000 x 2.5/M + 4,000 x 10/M = $0.08.
    # On gpt-4o-mini: 16,000 x 0.15/M + 4,000 x 0.6/M = $0.0048.
    # After: 0.5 x 0.08 + 0.5 x (0.0048 + 0.1 x 0.08) = 0.04 + 0.0064 = $0.0464 -> saves $0.0336.
    # The 9,000-token request stays on gpt-4o: 9,000 x 2.5/M + 400 x 10/M = $0.0265.
    assert data["savings_usd"] == "0.0336"
    assert data["baseline_cost_usd"] == "0.1065"  # 0.08 + 0.0265
    assert data["scenario_cost_usd"] == "0.0729"  # 0.0464 + 0.0265
    assert (data["from"], data["to"], data["period_days"]) == ("2025-05-01", "2025-05-02", 2)
    [rule] = data["rules"]
    assert rule["requests_moved"] == 5
    assert rule["savings_usd"] == "0.0336"
    assert rule["break_even_escalation"] == "0.94"  # 1 - 0.0048 / 0.08
    assert data["monthly_savings_usd"] == "0.504"  # 0.0336 x 30 / 2


def test_simulate_date_range_and_text_output(db: str) -> None:
    code, out, _ = invoke(
        "simulate",
        "--rule",
        RULE,
        "--from",
        "2025-05-02",
        "--to",
        "2025-05-02",
        "--db",
        db,
        "--json",
    )
    assert code == 0
    assert json.loads(out)["rules"][0]["matched_requests"] == 5  # even i < 10 fall on May 1
    code, out, _ = invoke("simulate", "--rule", RULE, "--db", db)
    assert code == 0 and "savings $0.03" in out


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--rule", "model=gpt-4o,share=0.5"), "share needs a target"),
        (("--rule", "model=gpt-4o,target=gpt-4o-mini,share=7"), "between 0 and 1"),
        (("--rule", "model=gpt-4o,target=no-such-model"), "not in the price book"),
        (
            ("--rule", "model=gpt-4o,target=gpt-4o-mnii"),
            "rule 1: target model 'gpt-4o-mnii' is not in the price book; did you mean gpt-4o-mini",
        ),
        (
            ("--rule", "model=gpt-4x,target=gpt-4o-mini"),
            "rule 1: no model named 'gpt-4x' has traffic or a price; did you mean",
        ),
        (("--rule", RULE, "--rule", "model=gpt4o,target=gpt-4o-mini"), "rule 2: no model named"),
        (("--rule", RULE, "--from", "yesterday"), "--from must be a date"),
        (("--rule", RULE, "--from", "2025-05-03", "--to", "2025-05-01"), "is after"),
    ],
)
def test_bad_input_exits_2_with_one_line(db: str, args: tuple[str, ...], reason: str) -> None:
    code, _, err = invoke("simulate", *args, "--db", db)
    assert code == 2
    assert reason in err and len(err.strip().splitlines()) == 1


def test_missing_rule_is_a_usage_error(db: str) -> None:
    code, _, _ = invoke("simulate", "--db", db)
    assert code == 2


def test_a_rule_naming_the_dated_id_matches_the_same_traffic(db: str) -> None:
    dated = RULE.replace("model=gpt-4o,", "model=gpt-4o-2024-08-06,")
    code, out, _ = invoke("simulate", "--rule", dated, "--db", db, "--json")
    assert code == 0 and json.loads(out)["savings_usd"] == "0.0336"  # as for model=gpt-4o
    models = {m["model"] for m in json.loads(out)["models"]}
    assert models == {"gpt-4o", "gpt-4o-mini"}
