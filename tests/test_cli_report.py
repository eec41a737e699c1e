"""`python cli.py report`: the JSON of the CLI contract, CSV and Excel that add up, exit 2."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from cli import app
from db.engine import make_engine
from db.fx import record_rate, set_display_currency
from db.ingest import ingest_records
from tests.actors import ADMIN

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# gpt-4o $2.50 in / $10 out per million tokens; gpt-4o-mini $0.15 / $0.60.
LOG = [
    # 1,000 x 2.5/M + 100 x 10/M = $0.0035 (x 3 requests = $0.0105)
    *[(f"a{i}", "2026-01-05", "gpt-4o", 1000, 100, "search", "ann") for i in range(3)],
    # 20,000 x 0.15/M + 5,000 x 0.6/M = $0.006
    ("b", "2026-01-20", "gpt-4o-mini", 20000, 5000, '=HYPERLINK("x")', "bob"),
    # 4,000 x 2.5/M + 300 x 10/M = $0.013, no project and no user
    ("c", "2026-01-31", "gpt-4o", 4000, 300, "", ""),
    # February: outside the period
    ("d", "2026-02-01", "gpt-4o", 4000, 300, "search", "ann"),
]


@pytest.fixture
def db(sqlite_url: str) -> str:
    records = [
        {"timestamp": f"{day}T12:00:00Z", "request_id": rid, "model": model,
         "input_tokens": tin, "output_tokens": tout, "project": project, "user": user}
        for rid, day, model, tin, tout, project, user in LOG
    ]  # fmt: skip
    ingest_records(make_engine(sqlite_url), records, source="t", file_name="t.jsonl", actor=ADMIN)
    return sqlite_url


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


JAN = ("--from", "2026-01-01", "--to", "2026-01-31")


def test_json_by_project(db: str) -> None:
    code, out, _ = invoke(*JAN, "--by", "project", "--json", "--db", db)
    assert code == 0
    data = json.loads(out)
    assert (data["from"], data["to"], data["currency"]) == ("2026-01-01", "2026-01-31", "USD")
    assert data["total_cost_usd"] == "0.0295"  # 0.0105 + 0.006 + 0.013
    rows = {r["key"]: r for r in data["rows"]}
    assert list(rows) == ["search", '=HYPERLINK("x")', "unallocated"]  # largest first, then none
    assert rows["search"] == {
        "key": "search", "keys": {"project": "search"}, "unallocated": False, "requests": 3,
        "input_tokens": 3000, "cached_input_tokens": 0, "output_tokens": 300, "cost_usd": "0.0105",
    }  # fmt: skip
    assert rows["unallocated"]["cost_usd"] == "0.013" and rows["unallocated"]["unallocated"]


def test_json_by_two_dimensions_joins_the_keys(db: str) -> None:
    code, out, _ = invoke(*JAN, "--by", "project", "--by", "user", "--format", "json", "--db", db)
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["key"] for r in rows] == ["search / ann", '=HYPERLINK("x") / bob',
                                        "unallocated / unallocated"]  # fmt: skip
    assert rows[0]["keys"] == {"project": "search", "user": "ann"}


def test_csv_opens_in_excel_and_adds_up_to_the_cent(db: str, tmp_path: Path) -> None:
    target = tmp_path / "january.csv"
    code, _, err = invoke(
        *JAN, "--by", "model", "--format", "csv", "--output", str(target), "--db", db
    )
    assert code == 0 and "wrote" in err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the file as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    # gpt-4o: 0.0105 + 0.013 = 0.0235 -> 0.02 (floor), remainder .35 cent; gpt-4o-mini 0.006 ->
    # 0.00, remainder .6 cent. The total 0.0295 -> 0.03 needs one more cent: it goes to mini.
    assert [(r["model"], r["cost_usd"]) for r in rows] == [
        ("gpt-4o", "0.02"), ("gpt-4o-mini", "0.01"), ("Total", "0.03")]  # fmt: skip
    assert rows[-1]["requests"] == "5"
    assert sum(Decimal(r["cost_usd"]) for r in rows[:-1]) == Decimal(rows[-1]["cost_usd"])


def test_csv_to_stdout_neutralises_formulas(db: str) -> None:
    code, out, _ = invoke(*JAN, "--by", "project", "--format", "csv", "--db", db)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert rows[0][:2] == ["project", "requests"]
    assert rows[2][0] == '\'=HYPERLINK("x")'
    assert rows[3][0] == "unallocated" and rows[4][0] == "Total"


def _xlsx_rows(path: Path) -> list[list[str]]:
    """The first sheet's cells as text, read from the workbook's XML."""
    with zipfile.ZipFile(path) as book:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{NS}t"))
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{NS}si")
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{NS}row"):
        cells = []
        for c in row.iter(f"{NS}c"):
            value = c.find(f"{NS}v")
            text = "" if value is None else value.text or ""
            cells.append(strings[int(text)] if c.get("t") == "s" else text)
        rows.append(cells)
    return rows


def test_xlsx_has_the_lines_and_the_total(db: str, tmp_path: Path) -> None:
    target = tmp_path / "january.xlsx"
    code, _, _ = invoke(
        *JAN, "--by", "user", "--format", "xlsx", "--output", str(target), "--db", db
    )
    assert code == 0
    rows = _xlsx_rows(target)
    assert rows[0] == ["user", "requests", "input_tokens", "cached_input_tokens",
                       "output_tokens", "cost_usd"]  # fmt: skip
    # ann 0.0105 -> 0.01; unallocated 0.013 -> 0.01; bob 0.006 -> 0.00 + the missing cent.
    by_user = {r[0]: Decimal(r[-1]) for r in rows[1:]}
    assert by_user == {"ann": Decimal("0.01"), "bob": Decimal("0.01"),
                       "unallocated": Decimal("0.01"), "Total": Decimal("0.03")}  # fmt: skip
    assert all(not c.startswith("=") for r in rows for c in r)


def test_converted_figures_carry_the_rate_and_its_date(db: str) -> None:
    engine = make_engine(db)
    record_rate(engine, currency="EUR", per_usd="0.9", effective_on=date(2026, 1, 10), actor=ADMIN)
    record_rate(engine, currency="EUR", per_usd="0.5", effective_on=date(2026, 2, 1), actor=ADMIN)
    code, out, _ = invoke(*JAN, "--by", "project", "--currency", "eur", "--json", "--db", db)
    assert code == 0
    data = json.loads(out)
    # The rate in force on 31 January is the one of 10 January (0.5 starts in February).
    assert (data["currency"], data["rate"], data["rate_date"]) == ("EUR", "0.9", "2026-01-10")
    assert data["total_cost"] == "0.02655"  # 0.0295 x 0.9
    assert data["rows"][0]["cost"] == "0.00945"  # 0.0105 x 0.9
    code, out, _ = invoke(
        *JAN, "--by", "project", "--currency", "EUR", "--format", "csv", "--db", db
    )
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert (rows[0]["eur_per_usd"], rows[0]["rate_date"]) == ("0.9", "2026-01-10")
    assert sum(Decimal(r["cost_eur"]) for r in rows[:-1]) == Decimal(rows[-1]["cost_eur"])


def test_the_display_currency_is_the_default_and_a_missing_rate_exits_2(db: str) -> None:
    set_display_currency(make_engine(db), currency="GBP", actor=ADMIN)
    code, out, err = invoke(*JAN, "--by", "model", "--json", "--db", db)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: no GBP rate dated on or before 2026-01-31: record one (Exchange rates page) or "
        "show figures in USD (or pass --currency USD)"
    ]
    code, out, _ = invoke(*JAN, "--by", "model", "--json", "--currency", "USD", "--db", db)
    assert code == 0 and json.loads(out)["currency"] == "USD"


def test_table_for_people(db: str) -> None:
    code, out, _ = invoke(*JAN, "--by", "project", "--db", db)
    assert code == 0
    assert "Spend 2026-01-01 .. 2026-01-31 by project" in out
    assert re.search(r"search\s+│\s+3\s+│\s+3,000\s+│", out)
    assert "unallocated" in out and "Total" in out and "$0.03" in out


def test_to_defaults_to_yesterday_and_from_to_the_first_of_its_month(db: str) -> None:
    code, out, _ = invoke("--by", "model", "--json", "--db", db)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    data = json.loads(out)
    assert code == 0
    assert (data["from"], data["to"]) == (
        yesterday.replace(day=1).isoformat(),
        yesterday.isoformat(),
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--by", "squad"), "unknown dimension 'squad'"),
        (("--by", "model", "--by", "model"), "named twice"),
        ((), "name at least one dimension"),
        (("--by", "model", "--from", "2026-02-30"), "--from must be a date"),
        (("--by", "model", "--to", "yesterday"), "--to must be a date"),
        (("--by", "model", "--from", "2026-02-01", "--to", "2026-01-01"), "is after"),
        (("--by", "model", "--format", "pdf"), "--format must be one of"),
        (("--by", "model", "--format", "csv", "--json"), "two formats"),
        (("--by", "model", "--currency", "EURO"), "three-letter code"),
        (("--by", "model", "--currency", "CHF"), "no CHF rate"),
        (("--by", "model", "--output", "/nonexistent/dir/r.csv"), "cannot write"),
    ],
)
def test_unusable_input_exits_2_with_one_line(db: str, args: tuple[str, ...], reason: str) -> None:
    code, out, err = invoke(*args, "--db", db)
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1 and reason in err and "Traceback" not in err
