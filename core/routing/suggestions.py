"""Suggestions: which models a rule can route to, best first; premium traffic under N input
tokens and what moving it would save."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext

import pandas as pd

from core.alternatives import Ranked, rank
from core.identity import canonical, identify
from core.pricing import CHAT_KIND, PriceBook, Rates, Unpriced
from core.routing.rules import Rule, RuleError, routing_problem
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
    problem = routing_problem(Rule(target=target, share=ONE), book, when)
    if problem is not None:
        raise RuleError(problem)
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
        if isinstance(rates, Rates) and rates.chat and rates.input_mtok > target.input_mtok:
            found[canonical(book, model)] = None
    return list(found)


def target_choices(
    book: PriceBook,
    when: date | datetime | None,
    *,
    sources: Sequence[str] = (),
    shortlist: Collection[str] = (),
    in_traffic: Collection[str] = (),
) -> list[Ranked[str]]:
    """Chat models a rule can route to, in the order to try them for traffic now on `sources`
    (most important first; the first source itself is left out): shortlisted models, the
    sources' smaller siblings, models in the traffic, then the rest by name."""
    makers: dict[str, str] = {}
    for rates in book.table(when, kind=CHAT_KIND):
        makers.setdefault(rates.model, identify(book, rates.model).provider or rates.provider)
    source_ids = [canonical(book, s) for s in sources]
    pairs = [(s, identify(book, s).provider or None) for s in source_ids]
    names = [n for n in sorted(makers, key=str.lower) if n not in source_ids[:1]]
    return rank(
        pairs, names, name=str, maker=makers.get, shortlist=shortlist, in_traffic=in_traffic
    )


def spend_order(traffic: pd.DataFrame, book: PriceBook, when: date | datetime | None) -> list[str]:
    """The traffic's chat models, dearest first (what each cost in the period)."""
    models = simulate(traffic, [], book, when=when).models
    cost = dict(zip(models["model"], models["baseline_usd"], strict=True))
    chat = [m for m in cost if _is_chat(book, m, when)]
    return sorted(chat, key=lambda m: cost[m], reverse=True)


def _is_chat(book: PriceBook, model: str, when: date | datetime | None) -> bool:
    """True when the book prices `model` as a chat model."""
    rates = book.price_at(model, when)
    return isinstance(rates, Rates) and rates.chat
