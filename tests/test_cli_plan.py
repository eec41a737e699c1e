"""`python cli.py plan`: the JSON contract, the classic figures and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
CLASSIC = ["--requests-per-day", "500", "--input-tokens", "1600", "--output-tokens", "400"]


@pytest.fixture
def run(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    from cli import app

    monkeypatch.setenv("COSTDESK_DATABASE_URL", sqlite_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["plan", *args])

    return invoke


def test_subprocess_reports_120_for_gpt4o(sqlite_url: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "cli.py",
            "plan",
            "--model",
            "gpt-4o",
            *CLASSIC,
            "--json",
            "--db",
            sqlite_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    payload = json.loads(out.stdout)
    assert payload["model"] == "gpt-4o"
    assert payload["monthly_cost_usd"] == "120.00"
    assert payload["daily_cost_usd"] == "4.00"
    assert payload["cost_per_request_usd"] == "0.008"
    assert payload["uncached_input_usd"] == "60.00"
    assert payload["cached_input_usd"] == "0.00"
    assert payload["output_usd"] == "60.00"


def test_mini_is_7_20(run) -> None:
    result = run("--model", "gpt-4o-mini", *CLASSIC, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["monthly_cost_usd"] == "7.20"


def test_cache_batch_growth_and_months(run) -> None:
    # real time: 14.4M uncached x $2.50 + 9.6M cached x $1.25 + 6M out x $10 = 36 + 12 + 60 = 108
    # batch (the snapshot's batch cached rate is also $1.25/M): 18 + 12 + 30 = 60
    # half and half: 54 + 30 = 84; next month +10 % = 92.40
    result = run(
        "--model",
        "gpt-4o",
        *CLASSIC,
        "--cache-hit-rate",
        "0.4",
        "--batch-share",
        "50%",
        "--growth",
        "0.1",
        "--months",
        "2",
        "--json",
    )
    payload = json.loads(result.stdout)
    assert payload["monthly_cost_usd"] == "84.00"
    assert payload["cached_input_usd"] == "12.00"
    assert [m["monthly_cost_usd"] for m in payload["projection"]] == ["84.00", "92.40"]


def test_compare_lists_every_priced_model_sorted(run) -> None:
    payload = json.loads(run("--model", "gpt-4o", *CLASSIC, "--compare", "--json").stdout)
    models = payload["models"]
    assert len(models) > 100
    monthly = [float(m["monthly_cost_usd"]) for m in models]
    assert monthly == sorted(monthly)
    mini = next(m for m in models if m["model"] == "gpt-4o-mini")
    assert mini["monthly_cost_usd"] == "7.20"
    assert all(float(m["monthly_cost_usd"]) > 0 for m in models)


def test_unknown_model_exits_2_with_one_line(run) -> None:
    result = run("--model", "no-such-model", *CLASSIC, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no-such-model" in result.stderr


def test_bad_share_exits_2(run) -> None:
    result = run("--model", "gpt-4o", *CLASSIC, "--cache-hit-rate", "2")
    assert result.exit_code == 2
    assert "between 0 % and 100 %" in result.stderr


def test_table_output(run) -> None:
    result = run("--model", "gpt-4o", *CLASSIC)
    assert result.exit_code == 0
    assert "$120.00" in result.stdout
