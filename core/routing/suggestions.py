"""Suggestions: premium traffic under N input tokens and what moving it would save."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext

import pandas as pd

from core.identity import canonical
from core.pricing import PriceBook, Rates, Unpriced
from core.routing.rules import Rule, RuleError
from core.routing.simulation import simulate
from core.routing.units import DAYS_PER_MONTH, ONE, PREC, SHARE_QUANTUM, ZERO


@dataclass
class Suggestion:
    """Premium traffic under N input tokens and what moving it to a cheaper model would save."""

    target: str
    max_input_tokens: int
    table: pd.DataFrame  # per premium model
    premium_requests: int
    requests_under: int
    savings_usd: Decimal
    monthly_savings_usd: Decimal

    @property
    def share_under(self) -> Decimal | None:
        """Share of premium-model requests under the threshold."""
        if not self.premium_requests:
            return None
        with localcontext(prec=PREC):
            return (Decimal(self.requests_under) / self.premium_requests).quantize(SHARE_QUANTUM)


_SUGGEST_COLUMNS = (
    "model",
    "requests",
    "requests_under",
    "share_under",
    "requests_blocked",
    "savings_usd",
    "monthly_savings_usd",
)


def suggest(
    traffic: pd.DataFrame,
    book: PriceBook,
    *,
    target: str,
    max_input_tokens: int,
    when: date | datetime | None = None,
    period_days: int = DAYS_PER_MONTH,
    premium_models: Iterable[str] | None = None,
) -> Suggestion:
    """Per premium model: the share of its traffic under N input tokens and what moving it saves.

    Premium models default to every priced model in the traffic whose input price is above the
    target's. Savings assume the whole share moves (no escalation) and respect context windows.
    """
    target_rates = book.price_at(target, when)
    if isinstance(target_rates, Unpriced):
        raise RuleError(f"target model {target!r} is not in the price book")
    if premium_models is None:
        premium_models = _dearer_models(traffic, book, when, target_rates)
    ids = traffic["model"].map(lambda m: canonical(book, m))
    rows = []
    with localcontext(prec=PREC):
        for model in premium_models:
            rule = Rule(model=model, max_input_tokens=max_input_tokens, target=target, share=ONE)
            result = simulate(traffic, [rule], book, when=when, period_days=period_days)
            total = int(traffic.loc[ids == canonical(book, model), "requests"].sum())
            under = result.rules[0]
            rows.append(
                {
                    "model": canonical(book, model),
                    "requests": total,
                    "requests_under": under.matched_requests,
                    "share_under": (Decimal(under.matched_requests) / total).quantize(SHARE_QUANTUM)
                    if total
                    else ZERO,
                    "requests_blocked": under.requests_blocked,
                    "savings_usd": result.savings_usd,
                    "monthly_savings_usd": result.monthly(result.savings_usd),
                }
            )
    table = pd.DataFrame(rows, columns=list(_SUGGEST_COLUMNS))
    return Suggestion(
        target=target,
        max_input_tokens=max_input_tokens,
        table=table,
        premium_requests=int(table["requests"].sum()),
        requests_under=int(table["requests_under"].sum()),
        savings_usd=sum(table["savings_usd"], ZERO),
        monthly_savings_usd=sum(table["monthly_savings_usd"], ZERO),
    )


def _dearer_models(
    traffic: pd.DataFrame, book: PriceBook, when: date | datetime | None, target: Rates
) -> list[str]:
    """Canonical models of the traffic whose input price is above the target's."""
    found: dict[str, None] = {}
    for model in traffic["model"].unique():
        rates = book.price_at(model, when)
        if isinstance(rates, Rates) and rates.input_mtok > target.input_mtok:
            found[canonical(book, model)] = None
    return list(found)
