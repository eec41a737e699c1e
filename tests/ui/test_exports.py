"""Exports open as data: formula-like text is neutralised, numbers stay numbers, no formulas."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pandas as pd
import pytest

from ui.exports import csv_bytes, neutralise, neutralised
from ui.plans_resources import export_csv, export_xlsx

EVIL = '=HYPERLINK("http://evil","x")'
T = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}t"


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\rcmd", "=", "-"]
)
def test_formula_like_text_is_prefixed_with_a_quote(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", [-3.5, -3, Decimal("-3.5"), "-3.5", "+2", "-1e3", None, "gpt-4o", "a=b", " =1", ""]
)
def test_numbers_and_ordinary_text_are_kept(cell: object) -> None:
    assert neutralise(cell) is cell


def test_a_frame_keeps_its_number_columns() -> None:
    frame = pd.DataFrame({"model": ["=cmd|' /C calc'!A0", "ok"], "cost": [-3.5, 2.0]})
    out = neutralised(frame)
    assert out["model"].tolist() == ["'=cmd|' /C calc'!A0", "ok"]
    assert out["cost"].tolist() == [-3.5, 2.0] and out["cost"].dtype == "float64"
    assert frame["model"].iloc[0].startswith("=")  # the caller's frame is left alone


def test_csv_cells_never_start_a_formula() -> None:
    frame = pd.DataFrame({"file": ['=HYPERLINK("x")', "@SUM(A1)"], "line": [-1, 2]})
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode())))
    assert rows == [["file", "line"], ['\'=HYPERLINK("x")', "-1"], ["'@SUM(A1)", "2"]]


def _scenarios() -> pd.DataFrame:
    return pd.DataFrame(
        {"scenario": [EVIL, "http://evil.example/x"], "model": ["gpt-4o", "+1+1"],
         "monthly_usd": [Decimal("12.50"), Decimal("-3.5")]}
    )  # fmt: skip


def test_scenario_csv_export_is_neutralised_and_exact() -> None:
    rows = list(csv.reader(io.StringIO(export_csv(_scenarios()).decode())))
    assert rows[1] == ["'" + EVIL, "gpt-4o", "12.5"]
    assert rows[2] == ["http://evil.example/x", "'+1+1", "-3.5"]


def test_scenario_excel_export_holds_no_formula_and_no_link() -> None:
    book = zipfile.ZipFile(io.BytesIO(export_xlsx(_scenarios())))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet and "<hyperlink" not in sheet
    assert not any(name.endswith(".rels") and "sheet1" in name for name in book.namelist())
    strings = [t.text for t in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(T)]
    assert "'" + EVIL in strings and "'+1+1" in strings and "http://evil.example/x" in strings
    assert re.search(r'<c r="C3"[^>]*><v>-3\.5</v>', sheet)  # a number cell, not text
