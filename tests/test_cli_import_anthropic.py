"""`cli.py import-anthropic` as a user runs it: a real process against a local Admin API."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integrations.fake_anthropic import (
    COST_PATH,
    USAGE_PATH,
    FakeAnthropic,
    Reply,
    bucket,
    cost_result,
    usage_result,
)

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-ant-admin01-cli"
HAIKU = "claude-haiku-4-5-20251001"
SETTINGS = ("ANTHROPIC_ADMIN_KEY", "COSTDESK_ANTHROPIC_BASE_URL")


def run(*args: str, db: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return subprocess.run(
        [sys.executable, "cli.py", "import-anthropic", *args, "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**base, **env},
    )  # fmt: skip


@pytest.fixture
def api():
    fake = FakeAnthropic(KEY)
    fake.url = fake.start()
    today = datetime.now(UTC).date()
    fake.pages[USAGE_PATH] = [
        [bucket(today - timedelta(days=1), [usage_result(HAIKU, 10_000, 2_000)])],
        [bucket(today, [usage_result(HAIKU, 2_000, 400)])],
    ]
    # 10,000 in at $1/1M = 1.0 cent; 2,000 out at $5/1M = 1.0 cent.
    fake.pages[COST_PATH] = [
        [bucket(today - timedelta(days=1), [
            cost_result("1.0", model=HAIKU, token_type="uncached_input_tokens"),
            cost_result("1.0", model=HAIKU, token_type="output_tokens")])],
    ]  # fmt: skip
    yield fake
    fake.stop()


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_no_admin_key_exits_2_with_one_line(sqlite_url, tmp_path):
    result = run("--days", "30", db=sqlite_url, env={"HOME": str(tmp_path)})
    assert "ANTHROPIC_ADMIN_KEY" in one_error_line(result)


def test_import_json_and_idempotent_rerun(sqlite_url, api):
    env = {"ANTHROPIC_ADMIN_KEY": KEY, "COSTDESK_ANTHROPIC_BASE_URL": api.url}
    first = run("--days", "30", "--json", db=sqlite_url, env=env)
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["provider"] == "anthropic"
    assert (payload["usage_pages"], payload["usage_rows"], payload["cost_rows"]) == (2, 2, 2)
    # Nothing logged: computed $0; billed 1.0 + 1.0 cents = $0.02 on one flagged day.
    assert (payload["computed_usd"], payload["billed_usd"], payload["flagged"]) == (
        "0.00",
        "0.02",
        1,
    )
    assert api.requests[0].query["limit"] == ["30"]
    again = run("--days", "30", db=sqlite_url, env=env)
    assert again.returncode == 0 and "imported 2 usage rows" in again.stdout
    assert "0 new or changed" in again.stdout and "billed by Anthropic $0.02" in again.stdout


def test_rejected_key_unreachable_host_and_bad_answer_exit_2(sqlite_url, api):
    env = {"ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-wrong", "COSTDESK_ANTHROPIC_BASE_URL": api.url}
    assert "rejected the admin key (401)" in one_error_line(run(db=sqlite_url, env=env))
    env = {"ANTHROPIC_ADMIN_KEY": KEY, "COSTDESK_ANTHROPIC_BASE_URL": "http://127.0.0.1:9/v1"}
    assert "could not reach" in one_error_line(run(db=sqlite_url, env=env))
    api.script(Reply(200, ["not", "a", "page"]))
    env = {"ANTHROPIC_ADMIN_KEY": KEY, "COSTDESK_ANTHROPIC_BASE_URL": api.url}
    assert "not a page of buckets" in one_error_line(run(db=sqlite_url, env=env))
    assert "at least 1" in one_error_line(run("--days", "0", db=sqlite_url, env=env))
