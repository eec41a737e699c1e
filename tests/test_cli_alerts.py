"""`cli.py budget` and `cli.py alerts check` as cron runs them: real processes, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner, Result

from cli import app
from db.engine import make_engine
from db.ingest import ingest_records
from db.prices import save_override
from tests.actors import ADMIN
from tests.integrations.servers import Receiver

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, db: str) -> Result:
    """In-process run (fast) for commands that need no separate process."""
    return CliRunner().invoke(app, [*args, "--db", db])


def run(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A real process, as cron runs it."""
    full_env = {
        **os.environ,
        "COSTDESK_WEBHOOK_URL": "",
        "COSTDESK_SLACK_WEBHOOK_URL": "",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "cli.py", *args, "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=full_env,
    )  # fmt: skip


def _fill(db: str) -> None:
    """20 days × 10 requests of 1M input tokens at $1 per 1M = $10 a day, Mar 1..20, project search."""
    engine = make_engine(db)
    save_override(engine, model="acme-1", effective_from=date(2020, 1, 1),
                  rates={"input_mtok": Decimal(1), "output_mtok": Decimal(2)}, actor=ADMIN)  # fmt: skip
    records = [
        {"timestamp": f"2026-03-{d:02d}T{h:02d}:30:00Z", "request_id": f"r{d}-{h}", "model": "acme-1",
         "input_tokens": 1_000_000, "output_tokens": 0, "latency_ms": 700, "status": 200,
         "project": "search"}
        for d in range(1, 21) for h in range(10)
    ]  # fmt: skip
    assert (
        ingest_records(engine, records, source="t", file_name="t.jsonl", actor=ADMIN).accepted
        == 200
    )
    make_engine.cache_clear()


def test_budget_set_list_delete(sqlite_url: str) -> None:
    _fill(sqlite_url)  # a project scope must name logged traffic
    made = invoke("budget", "set", "--name", "Search", "--amount", "250", "--scope", "project:search",
               "--thresholds", "50,80,100", "--timezone", "Europe/Berlin", db=sqlite_url)  # fmt: skip
    assert made.exit_code == 0, made.stderr
    listed = json.loads(invoke("budget", "list", "--json", db=sqlite_url).stdout)
    assert listed["budgets"] == [
        {"name": "Search", "amount_usd": "250.00", "scope": "project:search", "thresholds": [50, 80, 100],
         "timezone": "Europe/Berlin", "forecast_alert": True}
    ]  # fmt: skip
    assert "Search" in invoke("budget", "list", db=sqlite_url).stdout
    assert invoke("budget", "delete", "Search", db=sqlite_url).exit_code == 0
    gone = invoke("budget", "delete", "Search", db=sqlite_url)
    assert gone.exit_code == 2 and "no budget named 'Search'" in gone.stderr


def test_budget_set_rejects_bad_input_with_one_line(sqlite_url: str) -> None:
    cases = (
        ["--amount", "-3"],
        ["--amount", "5", "--scope", "team:x"],
        ["--amount", "5", "--timezone", "Nowhere"],
    )
    for args in cases:
        bad = invoke("budget", "set", "--name", "B", *args, db=sqlite_url)
        assert (
            bad.exit_code == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
        )


def test_budget_scope_matching_nothing_exits_2_with_a_suggestion(sqlite_url: str) -> None:
    _fill(sqlite_url)
    bad = invoke("budget", "set", "--name", "B", "--amount", "5", "--scope", "project:serch",
                 db=sqlite_url)  # fmt: skip
    assert bad.exit_code == 2
    assert bad.stderr == "error: no project named 'serch' has traffic; did you mean search?\n"
    out = run("budget", "set", "--name", "B", "--amount", "5", "--scope", "project:copilott",
              db=sqlite_url)  # fmt: skip
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: no project named 'copilott' has traffic")
    assert json.loads(invoke("budget", "list", "--json", db=sqlite_url).stdout)["count"] == 0


def test_budget_on_a_priced_model_before_launch_is_kept_with_a_note(sqlite_url: str) -> None:
    _fill(sqlite_url)
    made = invoke("budget", "set", "--name", "Launch", "--amount", "100", "--scope",
                  "model:gpt-4o-2024-08-06", "--json", db=sqlite_url)  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["scope"] == "model:gpt-4o"
    assert made.stderr == (
        "note: No traffic for model:gpt-4o yet: its spend counts from the first request.\n"
    )
    acme = invoke("budget", "set", "--name", "Acme", "--amount", "100", "--scope", "model:acme-1",
                  db=sqlite_url)  # fmt: skip
    assert acme.exit_code == 0 and acme.stderr == ""  # the custom-priced model has traffic


def test_budget_name_with_a_line_break_is_refused(sqlite_url: str) -> None:
    bad = invoke("budget", "set", "--name", "Ops\nBcc: x@evil.test", "--amount", "5",
                 db=sqlite_url)  # fmt: skip
    assert bad.exit_code == 2 and "control characters" in bad.stderr
    assert bad.stderr.count("\n") == 1


def test_alerts_check_json_and_exit_codes(sqlite_url: str) -> None:
    _fill(sqlite_url)
    quiet = invoke("alerts", "check", "--as-of", "2026-03-20T23:00:00Z", "--json", db=sqlite_url)
    assert quiet.exit_code == 0, quiet.stderr
    assert json.loads(quiet.stdout)["firing"] == []
    invoke(
        "budget",
        "set",
        "--name",
        "Search",
        "--amount",
        "250",
        "--scope",
        "project:search",
        db=sqlite_url,
    )
    out = run("alerts", "check", "--as-of", "2026-03-20T23:00:00Z", "--json", db=sqlite_url)
    assert out.returncode == 1, out.stderr
    payload = json.loads(out.stdout)
    # spent 200 of 250 = 80 % -> 50 and 75; forecast 200 + 11 days × 10 = 310 = 124 % -> forecast
    firing = [(a["kind"], a["scope"], a["value"], a["threshold"]) for a in payload["firing"]]
    assert firing == [
        ("budget", "project:search", "80.00", "50.00"),
        ("budget", "project:search", "80.00", "75.00"),
        ("forecast", "project:search", "124.00", "100.00"),
    ]
    assert all(a["message"] for a in payload["firing"])
    assert (payload["new_events"], payload["notified"]) == (3, 0)
    again = json.loads(
        run("alerts", "check", "--as-of", "2026-03-20T23:00:00Z", "--json", db=sqlite_url).stdout
    )
    assert (len(again["firing"]), again["new_events"]) == (3, 0)


def test_alerts_check_notify_sends_once(sqlite_url: str) -> None:
    _fill(sqlite_url)
    invoke(
        "budget", "set", "--name", "Search", "--amount", "300", "--thresholds", "50", db=sqlite_url
    )
    hook = Receiver().start()
    try:
        env = {"COSTDESK_WEBHOOK_URL": hook.url}
        first = run(
            "alerts", "check", "--notify", "--as-of", "2026-03-20", "--json", db=sqlite_url, env=env
        )
        assert first.returncode == 1, first.stderr
        assert json.loads(first.stdout)["notified"] == 2  # 50 % threshold and forecast (310 > 300)
        second = run(
            "alerts", "check", "--notify", "--as-of", "2026-03-20", "--json", db=sqlite_url, env=env
        )
        assert json.loads(second.stdout)["notified"] == 0
        assert len(hook.received) == 1 and hook.received[0]["json"]["count"] == 2
        assert "SECRET-TOKEN" not in first.stdout + first.stderr + second.stdout + second.stderr
    finally:
        hook.stop()


def test_alerts_check_text_output_and_bad_as_of(sqlite_url: str) -> None:
    ok = invoke("alerts", "check", "--as-of", "2026-03-20T12:00:00", db=sqlite_url)
    assert ok.exit_code == 0 and "no alerts firing" in ok.stdout
    bad = invoke("alerts", "check", "--as-of", "yesterday", db=sqlite_url)
    assert bad.exit_code == 2 and "--as-of" in bad.stderr


def test_delivery_warnings_in_json_and_text(sqlite_url: str) -> None:
    from tests.integrations.servers import smtp_server

    _fill(sqlite_url)
    invoke("budget", "set", "--name", "Search", "--amount", "300", "--thresholds", "50",
           db=sqlite_url)  # fmt: skip
    controller, sink = smtp_server()
    try:
        env = {"COSTDESK_SMTP_HOST": "127.0.0.1", "COSTDESK_SMTP_PORT": str(controller.port),
               "COSTDESK_SMTP_TLS": "none", "COSTDESK_ALERT_EMAIL_TO": "lead@example.test"}  # fmt: skip
        first = run("alerts", "check", "--notify", "--as-of", "2026-03-20", "--json",
                    db=sqlite_url, env=env)  # fmt: skip
        assert first.returncode == 1, first.stderr
        (delivery,) = json.loads(first.stdout)["deliveries"]
        assert (delivery["channel"], delivery["ok"]) == ("email", True)
        assert delivery["warning"] == "e-mail sent without TLS (COSTDESK_SMTP_TLS=none)"
        invoke("budget", "set", "--name", "Other", "--amount", "100", "--thresholds", "50",
               db=sqlite_url)  # fmt: skip
        text = run("alerts", "check", "--notify", "--as-of", "2026-03-20", db=sqlite_url, env=env)
        assert text.returncode == 1, text.stderr
        assert (
            "delivery warning on email: e-mail sent without TLS (COSTDESK_SMTP_TLS=none)"
            in text.stdout
        )
        assert len(sink.messages) == 2
    finally:
        controller.stop()
