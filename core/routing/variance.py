"""Plan vs actual: the difference split into effects that add up exactly to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd

from core.costs import picos_to_usd
from core.pricing import PriceBook, Rates
from core.routing.pricing import own_tiers, price_groups, tier_index, usage_arrays, usage_columns
from core.routing.traffic import prepare_traffic
from core.routing.units import PICO, PREC, ZERO

VARIANCE_STEPS = ("Volume", "Tokens per request", "Model mix", "Price")


@dataclass
class Variance:
    """Actual minus plan, split into effects that add up exactly to the total difference."""

    plan_usd: Decimal
    actual_usd: Decimal
    plan_requests: int
    actual_requests: int
    effects: dict[str, Decimal]
    unpriced: dict[str, int] = field(default_factory=dict)

    @property
    def difference_usd(self) -> Decimal:
        """Actual minus plan."""
        return self.actual_usd - self.plan_usd

    def table(self) -> pd.DataFrame:
        """Plan, each effect, actual: the rows of a waterfall chart (exact Decimal)."""
        rows = [("Plan", "total", self.plan_usd)]
        rows += [(name, "relative", amount) for name, amount in self.effects.items()]
        rows.append(("Actual", "total", self.actual_usd))
        return pd.DataFrame(rows, columns=["step", "measure", "amount_usd"])


def _priced_sum(frame: pd.DataFrame, rates: dict[str, Rates]) -> Decimal:
    """Each row at its own model's rates (tier from the row's mean prompt)."""
    picos = price_groups(
        usage_arrays(frame, "cached_input_tokens"),
        frame["model"].to_numpy(object),
        rates,
        own_tiers(frame, rates),
        frame["batch"].to_numpy(bool),
    )
    return picos_to_usd(sum(picos.tolist(), 0))


def plan_vs_actual(
    plan: pd.DataFrame,
    actual: pd.DataFrame,
    book: PriceBook,
    *,
    plan_when: date | datetime | None = None,
    actual_usd: Decimal | None = None,
) -> Variance:
    """Chain decomposition of actual minus plan: volume, tokens per request, model mix, price.

    Each step changes one driver and keeps the ones before it, so the effects telescope and
    sum exactly to the total. Plan and mix steps price at the plan's rates (`plan_when`); the
    price step ends at what was actually charged (`actual_usd`, else the frame's `cost_pusd`).
    """
    with localcontext(prec=PREC):
        plan_frame, plan_rates, _ = prepare_traffic(plan, book, plan_when)
        actual_frame, actual_rates, unpriced = prepare_traffic(actual, book, plan_when)
        plan_requests = int(plan_frame["requests"].sum())
        if plan_requests == 0:
            raise ValueError("the plan has no priced requests to compare with")
        actual_requests = int(actual["requests"].sum())
        planned = _priced_sum(plan_frame, plan_rates)
        volume = (planned * actual_requests / plan_requests).quantize(PICO)
        tokens = _plan_mix_with_actual_tokens(plan_frame, plan_rates, actual_frame, plan_requests)
        mix = _priced_sum(actual_frame, actual_rates)
        if actual_usd is None:
            actual_usd = Decimal(int(actual["cost_pusd"].sum())) * PICO
        steps = (planned, volume, tokens, mix, actual_usd)
        effects = {name: steps[i + 1] - steps[i] for i, name in enumerate(VARIANCE_STEPS)}
    return Variance(planned, actual_usd, plan_requests, actual_requests, effects, unpriced)


def _plan_mix_with_actual_tokens(
    plan: pd.DataFrame, rates: dict[str, Rates], actual: pd.DataFrame, plan_requests: int
) -> Decimal:
    """All actual tokens, spread over the plan's models and batch split by planned requests."""
    if actual.empty:
        return ZERO
    usage = {name: np.array([int(actual[c].sum())]) for name, c in usage_columns().items()}
    mean_input = np.array([usage["input_tokens"][0] / max(int(actual["requests"].sum()), 1)])
    models = plan["model"].to_numpy(object)
    tiers = np.array([tier_index(rates[m], mean_input)[0] for m in models], np.int64)
    picos = price_groups(usage, models, rates, tiers, plan["batch"].to_numpy(bool))
    total = ZERO
    for requests, cost_pusd in zip(plan["requests"], picos, strict=True):
        total += Decimal(int(requests)) / plan_requests * picos_to_usd(cost_pusd)
    return total.quantize(PICO)
