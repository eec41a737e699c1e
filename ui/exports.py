"""Downloads (CSV and Excel) that a spreadsheet opens as data: the rules live in `core.exports`,
shared with the command line's reports."""

from __future__ import annotations

from core.exports import (
    FORMULA_START,
    XLSX_OPTIONS,
    csv_bytes,
    excel_writer,
    neutralise,
    neutralised,
)

__all__ = [
    "FORMULA_START",
    "XLSX_OPTIONS",
    "csv_bytes",
    "excel_writer",
    "neutralise",
    "neutralised",
]
