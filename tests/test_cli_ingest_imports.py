"""`cli.py ingest` with provider reports and gateway tables: Anthropic's usage and cost report
pages saved as files, LiteLLM's daily spend tables (JSON and CSV), and Bedrock application
inference profiles mapped to models through the COSTDESK_BEDROCK_MODELS setting."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson

from tests.core.test_formats_bedrock import APP_PROFILE, invocation
from tests.integrations import fake_anthropic as ant

ROOT = Path(__file__).resolve().parent.parent
HAIKU = "claude-haiku-4-5-20251001"


def run(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "COSTDESK_BEDROCK_MODELS"}
    return subprocess.run(
        [sys.executable, "cli.py", "ingest", *args, "--json", "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**base, **(env or {})},
    )  # fmt: skip


def stored(db_url: str, sql: str) -> list[tuple]:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql).fetchall()


def test_anthropic_report_pages_from_files(tmp_path: Path, sqlite_url: str) -> None:
    from datetime import date

    day = date(2026, 11, 20)
    usage = {"data": [ant.bucket(day, [ant.usage_result(HAIKU, 10_000, 2_000, read=500)])],
             "has_more": True, "next_page": "page_1"}  # fmt: skip
    more = {"data": [ant.bucket(date(2026, 11, 21), [ant.usage_result(HAIKU, 100, 10)])],
            "has_more": False, "next_page": None}  # fmt: skip
    pages = tmp_path / "usage_report.jsonl"  # two pages saved one per line
    pages.write_bytes(orjson.dumps(usage) + b"\n" + orjson.dumps(more) + b"\n")
    costs = tmp_path / "cost_report.json"  # one page, pretty-printed
    results = [ant.cost_result("1.0", model=HAIKU, token_type="uncached_input_tokens"),
               ant.cost_result("123.45", model=HAIKU, token_type="output_tokens")]  # fmt: skip
    page = {"data": [ant.bucket(day, results)], "has_more": False, "next_page": None}
    costs.write_text(json.dumps(page, indent=2))

    result = run(str(pages), str(costs), db=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == 4  # 2 usage buckets + 2 cost lines
    again = json.loads(run(str(pages), str(costs), db=sqlite_url).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    # 1.0 + 123.45 cents = $1.2445, exact in pico-dollars
    assert stored(sqlite_url, "SELECT sum(amount_pusd) FROM billed_cost") == [(1_244_500_000_000,)]
    # 10,000 uncached + 500 read = 10,500 input, 500 of it cached
    assert stored(
        sqlite_url, "SELECT input_tokens, cached_input_tokens FROM usage_bucket ORDER BY start_time"
    ) == [(10_500, 500), (100, 0)]


DAILY = ["date", "api_key", "model", "model_group", "custom_llm_provider", "prompt_tokens",
         "completion_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "spend",
         "api_requests", "successful_requests", "failed_requests", "team_id"]  # fmt: skip
ROWS = [
    # current releases: prompt_tokens holds the cache reads
    ["2025-06-01", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
     "gpt-4o-mini", "fast", "openai", 2000, 300, 1536, 0, 0.999, 3, 3, 0, "team-7"],
    # an older release left Anthropic's cache parts out of prompt_tokens: 100 + 1536 + 200
    ["2025-06-01", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
     "claude-sonnet-4-20250514", "smart", "anthropic", 100, 50, 1536, 200, 0.5, 2, 1, 1, "team-7"],
]  # fmt: skip


def test_litellm_daily_tables_as_csv_and_json(tmp_path: Path, sqlite_url: str) -> None:
    table = tmp_path / "LiteLLM_DailyTeamSpend.csv"
    lines = [",".join(DAILY)] + [",".join(str(v) for v in row) for row in ROWS]
    table.write_text("\n".join(lines) + "\n")
    result = run(str(table), db=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == 2
    rows = stored(
        sqlite_url,
        "SELECT provider, source, project_id, model, requests, input_tokens, cached_input_tokens,"
        " cache_write_tokens, output_tokens FROM usage_bucket ORDER BY provider",
    )
    assert rows == [
        (
            "anthropic",
            "litellm-daily",
            "team-7",
            "claude-sonnet-4-20250514",
            2,
            1836,
            1536,
            200,
            50,
        ),
        ("openai", "litellm-daily", "team-7", "gpt-4o-mini", 3, 2000, 1536, 0, 300),
    ]
    key_ids = " ".join(r[0] for r in stored(sqlite_url, "SELECT api_key_id FROM usage_bucket"))
    assert ROWS[0][1] not in key_ids  # the key hash is never stored, only a digest
    exported = tmp_path / "daily.json"  # the same table exported as a JSON array: same rows
    exported.write_bytes(orjson.dumps([dict(zip(DAILY, row, strict=True)) for row in ROWS]))
    again = json.loads(run(str(exported), db=sqlite_url).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 2)


def test_bedrock_application_profiles_are_mapped_by_the_setting(
    tmp_path: Path, sqlite_url: str
) -> None:
    log = tmp_path / "bedrock.jsonl"
    log.write_bytes(orjson.dumps(invocation("r-1", modelId=APP_PROFILE)) + b"\n")
    unmapped = json.loads(run(str(log), db=sqlite_url).stdout)
    assert unmapped["unpriced_models"] == [APP_PROFILE]

    mapping = json.dumps({APP_PROFILE: "claude-3-7-sonnet-20250219"})
    other = f"sqlite:///{tmp_path / 'mapped.db'}"
    result = run(str(log), db=other, env={"COSTDESK_BEDROCK_MODELS": mapping})
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    # 18 in x $3 + 7,502 cache writes x $3.75 + 386 out x $15 per 1M = $0.0339765
    assert (payload["unpriced_models"], payload["cost_usd"]) == ([], "0.0339765")
    assert stored(other, "SELECT model_id FROM request_log") == [("claude-3-7-sonnet-latest",)]


def test_an_unusable_bedrock_setting_exits_2_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    log = tmp_path / "bedrock.jsonl"
    log.write_bytes(orjson.dumps(invocation("r-1")) + b"\n")
    for bad in ("{not json", '["a list"]', '{"arn:x": 7}'):
        result = run(str(log), db=sqlite_url, env={"COSTDESK_BEDROCK_MODELS": bad})
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "COSTDESK_BEDROCK_MODELS" in result.stderr and "Traceback" not in result.stderr
