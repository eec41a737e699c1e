"""`cli.py prices` as a user runs it: a real process, a real database file."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, db: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", *args, "--db", db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prices_json_lists_every_model_with_current_prices(sqlite_url):
    result = run("prices", "--json", db=sqlite_url)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    models = {m["model"]: m for m in payload["models"]}
    assert payload["count"] == len(payload["models"]) > 100
    assert models["gpt-4o"]["input_mtok"] == "2.50"
    assert models["gpt-4o"]["output_mtok"] == "10.00"
    assert models["gpt-4o"]["context_window"] == 128000
    assert {m["provider"] for m in payload["models"]} >= {"openai", "anthropic", "google"}


def test_prices_filters_by_provider_and_rejects_unknown(sqlite_url):
    result = run("prices", "--provider", "anthropic", "--json", db=sqlite_url)
    assert {m["provider"] for m in json.loads(result.stdout)["models"]} == {"anthropic"}
    bad = run("prices", "--provider", "nobody", db=sqlite_url)
    assert bad.returncode == 2
    assert "unknown provider" in bad.stderr and bad.stderr.count("\n") == 1
