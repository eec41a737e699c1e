"""The Chargeback downloads and the printable report: figures that add up, names as text."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pandas as pd

from core.attribution import chargeback
from core.currency import Conversion, FxRate
from ui.reports import chargeback_html, csv_download, excel_download, export_frame

PICO = 10**12
EVIL = "<script>alert(1)</script>=cmd"
MONTHS = (date(2026, 1, 1), date(2025, 12, 1))


def _frame(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["project", "cost_pusd"]).astype({"cost_pusd": object})


def _cb(conversion: Conversion = Conversion()):
    # January: search $2/3, EVIL $1/3, unallocated $1/3 (total $4/3); December: search $1.
    third = PICO // 3
    current = _frame([("search", 2 * third), (EVIL, third), ("", third)])
    return chargeback(current, _frame([("search", PICO)]), "project", MONTHS, conversion)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_csv_lines_add_up_to_the_total_row() -> None:
    raw = csv_download(_cb())
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    # The total 0.666666666666 + 2 x 0.333333333333 = $1.333333333332 rounds to $1.33. Rounded
    # down the lines make 0.66 + 0.33 + 0.33 = 1.32: the missing cent goes to search, whose
    # remainder (.67 cent) is the largest.
    assert [(r["project"], r["spend_usd"]) for r in rows] == [
        ("search", "0.67"), (EVIL, "0.33"), ("unallocated", "0.33"), ("Total", "1.33")]  # fmt: skip
    assert rows[0]["previous_usd"] == "1.00" and rows[0]["change_usd"] == "-0.33"  # 0.67 - 1
    assert rows[-1]["change_usd"] == "0.33"  # 1.33 - 1.00


def test_converted_downloads_state_the_rate_and_its_date() -> None:
    conversion = Conversion("EUR", FxRate("EUR", Decimal("0.9"), date(2026, 1, 31)))
    frame = export_frame(_cb(conversion))
    assert set(frame["eur_per_usd"]) == {"0.9"} and set(frame["rate_date"]) == {"2026-01-31"}
    # 1.333333333332 x 0.9 = 1.1999999999988 -> 1.20 EUR
    assert frame["spend_eur"].iloc[-1] == "1.20"


def test_excel_download_is_a_workbook_without_formulas() -> None:
    with zipfile.ZipFile(io.BytesIO(excel_download(_cb()))) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet
    assert "&lt;script&gt;" in strings


def test_the_printable_report_is_standalone_and_escapes_names() -> None:
    html = chargeback_html(_cb(), "Project", date(2026, 2, 2))
    parser = _Collect()
    parser.feed(html)
    assert "script" not in parser.tags  # the name is text, not a tag
    assert "link" not in parser.tags and "img" not in parser.tags  # nothing fetched
    assert "svg" in parser.tags and "table" in parser.tags
    text = " ".join(parser.text)
    assert EVIL in text
    assert "Chargeback by project, January 2026" in text
    assert "@page" in html and "break-inside: avoid" in html and "print-color-adjust" in html
    assert "$1.33" in text and "-$0.33" in text and "100.0 %" in text
    assert "Made by Costdesk on 2026-02-02" in text


def test_a_converted_report_says_its_rate() -> None:
    conversion = Conversion("EUR", FxRate("EUR", Decimal("0.9"), date(2026, 1, 31)))
    html = chargeback_html(_cb(conversion), "Project", date(2026, 2, 2))
    assert "1 USD = 0.9 EUR (rate of 2026-01-31)" in html and "1.20 EUR" in html
