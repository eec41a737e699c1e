"""Downloads (CSV and Excel) that a spreadsheet opens as data, never as formulas or links."""

from __future__ import annotations

import re
from typing import IO

import pandas as pd

# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A number written as text ("-3.5", "+1e3") is read as that number, never as a formula.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with `'`; other values as is."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _NUMBER_TEXT.fullmatch(value)
    ):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and column name through `neutralise`."""
    out = frame.rename(columns=neutralise)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            out.isetitem(i, column.map(neutralise))
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as UTF-8 CSV without its index, formula-like text neutralised."""
    return neutralised(frame).to_csv(index=False).encode()


def excel_writer(target: IO[bytes]) -> pd.ExcelWriter:
    """An XlsxWriter workbook that stores every string as text (no formulas, no hyperlinks)."""
    return pd.ExcelWriter(target, engine="xlsxwriter", engine_kwargs={"options": XLSX_OPTIONS})
