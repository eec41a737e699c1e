"""`cli.py import-openai` as a user runs it: a real process against a local Usage/Costs server."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integrations.fake_openai import FakeOpenAI, bucket, cost_result, usage_result

ROOT = Path(__file__).resolve().parent.parent
MINI = "gpt-4o-mini-2024-07-18"


def run(*args: str, db: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("OPENAI_ADMIN_KEY",)}
    return subprocess.run(
        [sys.executable, "cli.py", "import-openai", *args, "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**base, **env},
    )  # fmt: skip


@pytest.fixture
def api():
    fake = FakeOpenAI()
    fake.url = fake.start()
    today = datetime.now(UTC).date()
    fake.pages["/organization/usage/completions"] = [
        [bucket(today - timedelta(days=1), [usage_result(MINI, 10, 10_000, 5_000)])],
        [bucket(today, [usage_result(MINI, 2, 2_000, 1_000)])],
    ]
    fake.pages["/organization/costs"] = [
        [bucket(today - timedelta(days=1), [cost_result(f"{MINI}, input", 0.0015),
                                           cost_result(f"{MINI}, output", 0.003)])],
    ]  # fmt: skip
    yield fake
    fake.stop()


def test_no_admin_key_exits_2_with_one_line(sqlite_url, tmp_path):
    result = run("--days", "30", db=sqlite_url, env={"HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "OPENAI_ADMIN_KEY" in result.stderr and result.stderr.count("\n") == 1


def test_import_json_and_idempotent_rerun(sqlite_url, api):
    env = {"OPENAI_ADMIN_KEY": "sk-admin-cli", "COSTDESK_OPENAI_BASE_URL": api.url}
    first = run("--days", "30", "--json", db=sqlite_url, env=env)
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert (payload["usage_pages"], payload["usage_rows"], payload["cost_rows"]) == (2, 2, 2)
    assert payload["usage_changed"] + payload["cost_changed"] == 4
    # Nothing logged: computed $0; billed 0.0015 + 0.003 = $0.0045, one flagged day.
    assert (payload["computed_usd"], payload["billed_usd"]) == ("0.00", "0.0045")
    assert payload["flagged"] == 1
    assert api.requests[0].query["limit"] == ["30"]
    again = run("--days", "30", db=sqlite_url, env=env)  # re-import: nothing changes
    assert again.returncode == 0 and "imported 2 usage rows" in again.stdout
    assert "0 new or changed" in again.stdout
