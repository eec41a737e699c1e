"""The weekly or monthly digest: what was spent, on what, by whom, and what could be saved.

Pure: the figures arrive gathered (`integrations.digest` reads them) and leave as text lines
and a JSON record. A digest covers the last *complete* period before a day: ISO weeks
(Monday to Sunday) or calendar months, compared with the period just before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from core.attribution import label, share
from core.costs import picos_to_usd
from core.currency import Conversion, money_text
from core.pricing import PriceBook, Rates
from core.routing import DAYS_PER_MONTH, RuleError, suggest

WEEK, MONTH = "week", "month"
KINDS = (WEEK, MONTH)


@dataclass(frozen=True)
class Period:
    """An inclusive range of days: one ISO week or one calendar month."""

    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        """2026-W02 or 2026-01: the period's name, also its identity for sending once."""
        if self.kind == WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period just before this one."""
        return last_complete(self.kind, self.start)


def last_complete(kind: str, before: date) -> Period:
    """The last whole week (Monday to Sunday) or month that ends before the day `before`."""
    if kind == WEEK:
        end = before - timedelta(days=before.weekday() + 1)
        return Period(WEEK, end - timedelta(days=6), end)
    if kind == MONTH:
        end = before.replace(day=1) - timedelta(days=1)
        return Period(MONTH, end.replace(day=1), end)
    raise ValueError(f"a digest period is one of {', '.join(KINDS)}, got {kind!r}")


@dataclass(frozen=True)
class Ranked:
    """One cost centre and its spend (USD)."""

    name: str
    cost_usd: Decimal


@dataclass(frozen=True)
class BudgetLine:
    """Where one budget stood at the end of the period (USD)."""

    name: str
    scope: str
    spent_usd: Decimal
    amount_usd: Decimal
    used_pct: Decimal
    forecast_usd: Decimal
    reached: tuple[int, ...]


@dataclass(frozen=True)
class AlertLine:
    """An alert stored during the period."""

    kind: str
    scope: str
    message: str
    fired_at: datetime


@dataclass(frozen=True)
class Saving:
    """The routing suggestion that would have saved the most in the period (USD)."""

    target: str
    max_input_tokens: int
    models: tuple[str, ...]
    requests_under: int
    savings_usd: Decimal
    monthly_savings_usd: Decimal


@dataclass(frozen=True)
class Digest:
    """Everything one digest says."""

    period: Period
    spend_usd: Decimal
    previous_usd: Decimal
    top: dict[str, list[Ranked]]  # dimension -> most expensive centres
    budgets: list[BudgetLine] = field(default_factory=list)
    alerts: list[AlertLine] = field(default_factory=list)
    saving: Saving | None = None
    conversion: Conversion = field(default_factory=Conversion)
    notes: tuple[str, ...] = ()  # e.g. a missing exchange rate

    @property
    def change_usd(self) -> Decimal:
        """Spend minus the previous period's."""
        return self.spend_usd - self.previous_usd

    def money(self, usd: Decimal) -> str:
        """`usd` to the cent in the digest's currency."""
        return money_text(self.conversion.amount(usd), self.conversion.currency)


def top_centres(frame: pd.DataFrame, dim: str, count: int) -> list[Ranked]:
    """The `count` most expensive allocated centres, then the unallocated spend if any."""
    costs: dict[str, int] = {}
    for value, picos in zip(frame[dim], frame["cost_pusd"], strict=True):
        costs[str(value)] = costs.get(str(value), 0) + int(picos)
    named = sorted(((v, p) for v, p in costs.items() if v), key=lambda vp: (-vp[1], vp[0]))
    picked = named[:count] + ([("", costs[""])] if costs.get("") else [])
    return [Ranked(label(v), picos_to_usd(p)) for v, p in picked]


def best_saving(
    traffic: pd.DataFrame,
    book: PriceBook,
    targets: Iterable[str],
    *,
    max_input_tokens: int,
    when: date,
    period_days: int,
) -> Saving | None:
    """Of the routing suggestions moving small prompts to each target, the one saving most."""
    best: Saving | None = None
    for target in targets:
        try:
            found = suggest(
                traffic,
                book,
                target=target,
                max_input_tokens=max_input_tokens,
                when=when,
                period_days=period_days,
            )
        except RuleError:
            continue
        if found.savings_usd > 0 and (best is None or found.savings_usd > best.savings_usd):
            movers = found.table[found.table["savings_usd"] > 0]["model"]
            best = Saving(
                target,
                max_input_tokens,
                tuple(str(m) for m in movers),
                found.requests_under,
                found.savings_usd,
                found.monthly_savings_usd,
            )
    return best


def _change_text(d: Digest) -> str:
    """+$23.45 (+23.5 %) against the previous period."""
    change = d.change_usd
    sign = "+" if change >= 0 else "-"
    pct = share(change, d.previous_usd)
    tail = f", {float(pct) * 100:+.1f} %" if pct is not None else ""
    return f"{sign}{d.money(abs(change))}{tail}"


def _span(period: Period) -> str:
    return f"{period.start:%d %b %Y} – {period.end:%d %b %Y}"


def digest_lines(d: Digest, escape: Callable[[str], str] = str) -> list[str]:
    """The digest as plain text lines; `escape` is applied to every name from logs or users."""
    p = d.period
    lines = [
        f"Costdesk {p.kind}ly digest {p.label} ({_span(p)})",
        f"Spend: {d.money(d.spend_usd)} (previous {p.kind} {d.money(d.previous_usd)}; "
        f"{_change_text(d)})",
    ]
    if d.conversion.converted:
        lines.append(f"Figures in {d.conversion.currency}: {d.conversion.note}")
    lines += list(d.notes)
    for dim, ranked in d.top.items():
        items = ", ".join(f"{escape(r.name)} {d.money(r.cost_usd)}" for r in ranked) or "none"
        lines.append(f"Top {dim}s: {items}")
    lines += _budget_lines(d, escape)
    lines.append(f"Alerts this {p.kind}: {len(d.alerts)}")
    lines += [f"  - {escape(a.scope)}: {escape(a.message)}" for a in d.alerts[:10]]
    if len(d.alerts) > 10:
        lines.append(f"  … and {len(d.alerts) - 10} more")
    lines.append(_saving_line(d, escape))
    return lines


def _budget_lines(d: Digest, escape: Callable[[str], str]) -> list[str]:
    if not d.budgets:
        return ["Budgets: none set"]
    out = [f"Budgets at {d.period.end:%d %b %Y}:"]
    for b in d.budgets:
        reached = f"; reached {', '.join(f'{t} %' for t in b.reached)}" if b.reached else ""
        out.append(
            f"  - {escape(b.name)} ({escape(b.scope)}): {d.money(b.spent_usd)} of "
            f"{d.money(b.amount_usd)} ({b.used_pct} %), month-end forecast "
            f"{d.money(b.forecast_usd)}{reached}"
        )
    return out


def _saving_line(d: Digest, escape: Callable[[str], str]) -> str:
    s = d.saving
    if s is None:
        return "Biggest saving found: none (no cheaper model fits the small prompts)"
    models = ", ".join(escape(m) for m in s.models)
    return (
        f"Biggest saving found: prompts under {s.max_input_tokens:,} input tokens on {models} "
        f"moved to {escape(s.target)} would have saved {d.money(s.savings_usd)} this "
        f"{d.period.kind} ({d.money(s.monthly_savings_usd)} per {DAYS_PER_MONTH}-day month)"
    )


def _usd(value: Decimal) -> str:
    """Money as a decimal string, exact."""
    return f"{value:f}"


def _ranked_record(d: Digest, r: Ranked) -> dict[str, str]:
    record = {"key": r.name, "cost_usd": _usd(r.cost_usd)}
    if d.conversion.converted:
        record["cost"] = _usd(d.conversion.amount(r.cost_usd))
    return record


def digest_record(d: Digest) -> dict[str, Any]:
    """The digest as one JSON-ready object; money as exact decimal strings (USD)."""
    p = d.period
    record: dict[str, Any] = {
        "period": p.label,
        "kind": p.kind,
        "from": p.start.isoformat(),
        "to": p.end.isoformat(),
        "spend_usd": _usd(d.spend_usd),
        "previous_spend_usd": _usd(d.previous_usd),
        "change_usd": _usd(d.change_usd),
        "currency": d.conversion.currency,
        "top": {dim: [_ranked_record(d, r) for r in ranked] for dim, ranked in d.top.items()},
        "budgets": [_budget_record(b) for b in d.budgets],
        "alerts": [
            {"kind": a.kind, "scope": a.scope, "message": a.message, "fired_at": a.fired_at}
            for a in d.alerts
        ],
        "saving": None if d.saving is None else _saving_record(d.saving),
        "notes": list(d.notes),
    }
    if d.conversion.converted and d.conversion.rate is not None:
        record["rate"] = d.conversion.rate.text
        record["rate_date"] = d.conversion.rate.day.isoformat()
        record["spend"] = _usd(d.conversion.amount(d.spend_usd))
    return record


def _budget_record(b: BudgetLine) -> dict[str, Any]:
    return {
        "name": b.name,
        "scope": b.scope,
        "spent_usd": _usd(b.spent_usd),
        "amount_usd": _usd(b.amount_usd),
        "used_pct": _usd(b.used_pct),
        "forecast_usd": _usd(b.forecast_usd),
        "thresholds_reached": list(b.reached),
    }


def _saving_record(s: Saving) -> dict[str, Any]:
    return {
        "target": s.target,
        "max_input_tokens": s.max_input_tokens,
        "models": list(s.models),
        "requests_under": s.requests_under,
        "savings_usd": _usd(s.savings_usd),
        "monthly_savings_usd": _usd(s.monthly_savings_usd),
    }


def targets_by_price(models: Sequence[str], book: PriceBook, when: date, count: int) -> list[str]:
    """The `count` logged models with the lowest input price: candidate cheaper targets."""
    priced = []
    for model in models:
        rates = book.price_at(model, when)
        if isinstance(rates, Rates):
            priced.append((rates.input_mtok, model))
    return [m for _, m in sorted(priced)[:count]]
