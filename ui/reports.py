"""The Chargeback page's tables, downloads and printable monthly report.

Figures arrive as a `core.attribution.Chargeback`: exact amounts and cents that add up. The
printable report is one standalone HTML file (styles inline, the chart drawn as inline SVG, no
script and nothing fetched) laid out for A4 paper; every name from a log is HTML-escaped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

import pandas as pd

from core.attribution import Chargeback
from core.currency import money_text
from core.exports import csv_bytes, xlsx_bytes

CHART_CENTRES = 15  # bars in the printed chart; the table lists every centre
BAR, UNALLOCATED_BAR = "#3266c8", "#9aa0a6"


def _pct(value: Decimal | None, signed: bool = False) -> str:
    """0.1234 -> 12.3 % (+12.3 % when signed); None -> —."""
    if value is None:
        return "—"
    return f"{float(value) * 100:{'+' if signed else ''}.1f} %"


def _signed(cents: Decimal, currency: str) -> str:
    return ("+" if cents > 0 else "") + money_text(cents, currency)


def month_name(month: date) -> str:
    """January 2026."""
    return f"{month:%B %Y}"


def display_frame(cb: Chargeback) -> pd.DataFrame:
    """The page's table: numbers for sorting, shown to the cent (they add up to the total)."""
    t = cb.table
    return pd.DataFrame(
        {
            "Cost centre": t["centre"],
            "Spend": t["spend_cents"].map(float),
            "Share": t["share"].map(lambda v: None if v is None else float(v)),
            "Previous month": t["previous_cents"].map(float),
            "Change": t["change_cents"].map(float),
            "Change %": t["change_share"].map(lambda v: None if v is None else float(v)),
        }
    )


def export_frame(cb: Chargeback) -> pd.DataFrame:
    """The downloads' table: cents as text, a total row, the rate and its date when converted."""
    t, code = cb.table, cb.conversion.currency.lower()
    frame = pd.DataFrame(
        {
            cb.dimension: [*t["centre"], "Total"],
            "unallocated": [*t["unallocated"].map(bool), False],
            f"spend_{code}": [*t["spend_cents"], cb.total_cents],
            "share": [*(_share_text(v) for v in t["share"]), "1" if cb.total else ""],
            f"previous_{code}": [*t["previous_cents"], cb.previous_total_cents],
            f"change_{code}": [*t["change_cents"], cb.change_cents],
            "change_share": [*(_share_text(v) for v in t["change_share"]), _share_text(cb.change_share)],
        }
    )  # fmt: skip
    rate = cb.conversion.rate
    if rate is not None:
        frame[f"{code}_per_usd"] = rate.text
        frame["rate_date"] = rate.day.isoformat()
    return frame.astype({c: str for c in _money_columns(frame)})


def _share_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def _money_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The columns of `export_frame` that hold money."""
    kinds = ("spend", "previous", "change")
    return tuple(c for c in frame.columns if c.split("_")[0] in kinds and c != "change_share")


def csv_download(cb: Chargeback) -> bytes:
    """The table as CSV for Excel (UTF-8 with a BOM); the lines add up to the total row."""
    return csv_bytes(export_frame(cb), bom=True)


def excel_download(cb: Chargeback) -> bytes:
    """The table as an Excel workbook."""
    frame = export_frame(cb)
    return xlsx_bytes(frame, sheet="Chargeback", money_columns=_money_columns(frame))


# ---------------------------------------------------------------- the printable report

STYLE = """
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 10.5pt/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1f2328; margin: 0 auto; max-width: 190mm; padding: 8mm 0; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 12pt; margin: 7mm 0 2mm; }
p.meta, p.note, footer { color: #57606a; margin: 0 0 1.5mm; }
.kpis { display: flex; gap: 5mm; margin: 5mm 0; }
.kpi { flex: 1; border: 1px solid #d0d7de; border-radius: 2mm; padding: 3mm 4mm; }
.kpi b { display: block; font-size: 14pt; }
svg { width: 100%; height: auto; display: block; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 1.4mm 2mm; border-bottom: 1px solid #d8dee4; text-align: right; }
th:first-child, td:first-child { text-align: left; overflow-wrap: anywhere; }
thead th { border-bottom: 2px solid #57606a; }
thead { display: table-header-group; }
tfoot td { font-weight: 600; border-top: 2px solid #57606a; border-bottom: none; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.unallocated td:first-child { font-style: italic; }
figure, .kpis { break-inside: avoid; page-break-inside: avoid; margin: 0; }
footer { margin-top: 6mm; font-size: 9pt; }
@media screen { body { padding: 12mm; } }
"""


def _bars_svg(cb: Chargeback) -> str:
    """Horizontal bars of the largest centres' spend, as inline SVG (labels escaped)."""
    rows = cb.table.head(CHART_CENTRES)
    top = max((float(v) for v in rows["spend_cents"]), default=0.0) or 1.0
    row_h, label_w, width = 22, 190, 720
    bar_w = width - label_w - 110
    parts = []
    for i, (_, r) in enumerate(rows.iterrows()):
        y = i * row_h
        length = max(float(r["spend_cents"]) / top * bar_w, 0.5)
        color = UNALLOCATED_BAR if r["unallocated"] else BAR
        name = escape(str(r["centre"])[:32])
        figure = escape(money_text(r["spend_cents"], cb.conversion.currency))
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{name}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" '
            f'fill="{color}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15}">{figure}</text>'
        )
    height = max(len(rows), 1) * row_h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Spend per cost centre" font-size="12" font-family="sans-serif" '
        f'fill="#1f2328">{"".join(parts)}</svg>'
    )


def _table_html(cb: Chargeback, label: str) -> str:
    """Every centre with spend, share, the month before and the change; a total row."""
    code = cb.conversion.currency
    head = (
        f"<tr><th>{escape(label)}</th><th>Spend</th><th>Share</th><th>Previous month</th>"
        "<th>Change</th><th>Change %</th></tr>"
    )
    body = []
    for _, r in cb.table.iterrows():
        css = ' class="unallocated"' if r["unallocated"] else ""
        body.append(
            f"<tr{css}><td>{escape(str(r['centre']))}</td>"
            f"<td>{escape(money_text(r['spend_cents'], code))}</td><td>{_pct(r['share'])}</td>"
            f"<td>{escape(money_text(r['previous_cents'], code))}</td>"
            f"<td>{escape(_signed(r['change_cents'], code))}</td>"
            f"<td>{_pct(r['change_share'], signed=True)}</td></tr>"
        )
    foot = (
        f"<tr><td>Total</td><td>{escape(money_text(cb.total_cents, code))}</td>"
        f"<td>{'100.0 %' if cb.total else '—'}</td>"
        f"<td>{escape(money_text(cb.previous_total_cents, code))}</td>"
        f"<td>{escape(_signed(cb.change_cents, code))}</td>"
        f"<td>{_pct(cb.change_share, signed=True)}</td></tr>"
    )
    return (
        f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody><tfoot>{foot}</tfoot></table>"
    )


def _kpis(cb: Chargeback) -> str:
    code = cb.conversion.currency
    items = (
        (f"Spend, {month_name(cb.month)}", money_text(cb.total_cents, code)),
        (f"Spend, {month_name(cb.previous_month)}", money_text(cb.previous_total_cents, code)),
        ("Change", f"{_signed(cb.change_cents, code)} ({_pct(cb.change_share, signed=True)})"),
    )
    cells = "".join(f'<div class="kpi">{escape(k)}<b>{escape(v)}</b></div>' for k, v in items)
    return f'<div class="kpis">{cells}</div>'


def chargeback_html(cb: Chargeback, label: str, made_on: date) -> str:
    """The month's chargeback as a standalone, printable HTML document."""
    title = f"Chargeback by {label.lower()}, {month_name(cb.month)}"
    rate = f" {escape(cb.conversion.note)}." if cb.conversion.converted else ""
    shown = min(len(cb.table), CHART_CENTRES)
    chart_note = (
        f"The {shown} largest of {len(cb.table)} cost centres; the table lists all."
        if len(cb.table) > shown
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<p class="meta">Figures in {escape(cb.conversion.currency)}.{rate} Compared with
{escape(month_name(cb.previous_month))}.</p></header>
{_kpis(cb)}
<h2>Spend per {escape(label.lower())}</h2>
<figure>{_bars_svg(cb)}</figure>
<p class="note">{escape(chart_note)}</p>
<h2>Cost centres</h2>
{_table_html(cb, label)}
<footer>Unallocated: spend whose requests name no {escape(label.lower())}; it is shown as its own
line, never spread over the others. Amounts are exact sums rounded to the cent so that the lines
add up to the total. Made by Costdesk on {made_on.isoformat()}.</footer>
</body></html>
"""
