"""Downloads (CSV and Excel) that a spreadsheet opens as data, never as formulas or links.

The dashboard's downloads (`ui.exports`) and the command line's reports share these rules.
"""

from __future__ import annotations

import io
import re
from typing import IO

import pandas as pd

# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A number written as text ("-3.5", "+1e3") is read as that number, never as a formula.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}
BOM = "\ufeff".encode()  # lets Excel read a CSV file as UTF-8


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


def csv_bytes(frame: pd.DataFrame, *, bom: bool = False) -> bytes:
    """`frame` as UTF-8 CSV without its index, formula-like text neutralised (`bom`: for Excel)."""
    data = neutralised(frame).to_csv(index=False).encode()
    return BOM + data if bom else data


def excel_writer(target: IO[bytes]) -> pd.ExcelWriter:
    """An XlsxWriter workbook that stores every string as text (no formulas, no hyperlinks)."""
    return pd.ExcelWriter(target, engine="xlsxwriter", engine_kwargs={"options": XLSX_OPTIONS})


def xlsx_bytes(
    frame: pd.DataFrame,
    *,
    sheet: str = "Report",
    money_columns: tuple[str, ...] = (),
    count_columns: tuple[str, ...] = (),
) -> bytes:
    """`frame` as a workbook: money columns as numbers shown to the cent, text never a formula."""
    table = frame.copy()
    for column in money_columns:
        table[column] = table[column].map(lambda v: None if v is None else float(v))
    buffer = io.BytesIO()
    with excel_writer(buffer) as writer:
        neutralised(table).to_excel(writer, sheet_name=sheet, index=False)
        book, ws = writer.book, writer.sheets[sheet]
        formats = {
            **{c: book.add_format({"num_format": "#,##0.00"}) for c in money_columns},
            **{c: book.add_format({"num_format": "#,##0"}) for c in count_columns},
        }
        for i, column in enumerate(table.columns):
            ws.set_column(i, i, max(12, len(str(column)) + 2), formats.get(column))
    return buffer.getvalue()
