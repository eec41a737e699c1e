"""`python cli.py digest`: printed, sent once per period with --notify, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from db.engine import make_engine
from db.ingest import ingest_records
from tests.actors import ADMIN
from tests.integrations.servers import Receiver

NOTIFY_VARIABLES = (
    "COSTDESK_WEBHOOK_URL", "COSTDESK_SLACK_WEBHOOK_URL", "COSTDESK_SMTP_HOST",
    "COSTDESK_ALERT_EMAIL_TO", "COSTDESK_NOTIFY_RETRIES",
)  # fmt: skip


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in NOTIFY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # January: 2 x (1,000 x 2.5/M + 100 x 10/M) = $0.007; December: one of them, $0.0035.
    records = [
        {"timestamp": ts, "request_id": rid, "model": "gpt-4o", "input_tokens": 1000,
         "output_tokens": 100, "project": "search"}
        for rid, ts in (("a", "2026-01-03T10:00:00Z"), ("b", "2026-01-31T10:00:00Z"),
                        ("c", "2025-12-15T10:00:00Z"))
    ]  # fmt: skip
    ingest_records(make_engine(sqlite_url), records, source="t", file_name="t.jsonl", actor=ADMIN)
    return sqlite_url


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["digest", *args])
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_last_complete_month(db: str) -> None:
    code, out, _ = invoke("--period", "month", "--as-of", "2026-02-03", "--db", db)
    assert code == 0
    assert out.startswith("Costdesk monthly digest 2026-01 (01 Jan 2026 – 31 Jan 2026)")
    assert "Spend: $0.01 (previous month $0.00; +$0.00, +100.0 %)" in out  # 0.007 vs 0.0035


def test_json_holds_exact_money(db: str) -> None:
    code, out, _ = invoke(
        "--period", "month", "--as-of", "2026-02-03T08:00:00Z", "--json", "--db", db
    )
    data = json.loads(out)
    assert code == 0
    assert (data["period"], data["spend_usd"], data["previous_spend_usd"]) == (
        "2026-01",
        "0.007",
        "0.0035",
    )
    assert data["top"]["project"] == [{"key": "search", "cost_usd": "0.007"}]


def test_notify_sends_once_per_period(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Receiver().start()
    monkeypatch.setenv("COSTDESK_WEBHOOK_URL", hook.url)
    try:
        args = ("--period", "month", "--as-of", "2026-02-03", "--notify", "--db", db)
        code, out, _ = invoke(*args)
        assert code == 0 and "sent on webhook" in out
        code, out, _ = invoke(*args)
        assert code == 0 and "2026-01 already sent on webhook" in out and "nothing sent" in out
        assert len(hook.received) == 1
        # The next month is a new period: it goes out.
        code, out, _ = invoke("--period", "month", "--as-of", "2026-03-01", "--notify", "--db", db)
        assert code == 0 and len(hook.received) == 2
    finally:
        hook.stop()


def test_a_failed_delivery_exits_1(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Receiver(fail_first=99).start()
    monkeypatch.setenv("COSTDESK_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("COSTDESK_NOTIFY_RETRIES", "0")
    try:
        code, out, _ = invoke("--period", "week", "--as-of", "2026-02-03", "--notify", "--db", db)
    finally:
        hook.stop()
    assert code == 1 and "delivery failed on webhook after 1 attempts: HTTP 500" in out
    assert "SECRET-TOKEN" not in out


def test_notify_without_a_channel_says_how_and_exits_1(db: str) -> None:
    code, _, err = invoke("--period", "week", "--notify", "--db", db)
    assert code == 1 and "no notification channel configured" in err


@pytest.mark.parametrize(
    ("args", "reason"),
    [(("--period", "year"), "--period must be week or month"),
     (("--as-of", "last tuesday"), "--as-of 'last tuesday' is not an ISO timestamp")],
)  # fmt: skip
def test_unusable_input_exits_2_with_one_line(db: str, args: tuple[str, ...], reason: str) -> None:
    code, _, err = invoke(*args, "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1 and reason in err
