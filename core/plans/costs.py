"""What a workload costs on a model: the exact reference path and the vectorised path.

Two paths give the same figures. The reference path prices one request with `core.costs.cost`
(exact `Decimal`) and scales it. The vectorised path prices every workload variant on every
model at once through `core.costs.cost_kernel`, the kernel that also prices stored events:
counts are scaled by 1e4 so shares held in 1e-4 steps stay whole, and the real-time/batch blend
(S - b) x kernel(real time) + b x kernel(batch) is an exact integer of 1e-20 USD (int64 when the
bound check allows it, else Python ints). Tests hold both paths equal to the unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from core.costs import (
    COST_PARTS,
    CostBreakdown,
    RateArrays,
    Usage,
    cost,
    cost_kernel,
    kernel_dtype,
    max_count,
    rate_arrays,
)
from core.plans.workload import Workload, exact
from core.pricing import PriceBook, Rates, Unpriced

SHARE_SCALE = 10_000  # shares are held in 1e-4 steps (0.01 %)
UNITS_PER_USD = SHARE_SCALE * SHARE_SCALE * 10**6 * 10**6
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class PlanCost:
    """What one workload costs on one model: per request, per day, month and year."""

    provider: str
    model: str
    per_request: CostBreakdown
    requests_per_day: Decimal
    days_per_month: int
    context_window: int | None = None
    reserved_tokens: int = 0

    @property
    def cost_per_request_usd(self) -> Decimal:
        """Average cost of one request."""
        return self.per_request.total_usd

    @property
    def per_1k_requests_usd(self) -> Decimal:
        """Cost of 1,000 requests."""
        return self.per_request.total_usd * 1000

    @property
    def daily_usd(self) -> Decimal:
        """Cost of one day of traffic."""
        with exact():
            return self.per_request.total_usd * self.requests_per_day

    @property
    def monthly(self) -> CostBreakdown:
        """One month's cost, split into uncached input, cached input and output."""
        with exact():
            return self.per_request.scaled(self.requests_per_day * self.days_per_month)

    @property
    def monthly_usd(self) -> Decimal:
        """One month's total cost."""
        with exact():
            return self.monthly.total_usd

    @property
    def yearly_usd(self) -> Decimal:
        """Twelve months at this month's volume (growth is in the projection)."""
        return self.monthly_usd * MONTHS_PER_YEAR

    @property
    def fits_context(self) -> bool | None:
        """Whether the request fits the context window; None when the window is unknown."""
        if self.context_window is None:
            return None
        return self.reserved_tokens <= self.context_window


def _usage(workload: Workload) -> Usage:
    """One average request of `workload` as kernel usage (cached input as a share of input)."""
    cached = workload.input_tokens * workload.cache_hit_share
    return Usage(workload.input_tokens, workload.billed_output_tokens, cached_input_tokens=cached)


def _plan(rates: Rates, workload: Workload, per_request: CostBreakdown) -> PlanCost:
    """The plan of `workload` on the model of `rates`, given its per-request cost."""
    return PlanCost(
        provider=rates.provider,
        model=rates.model,
        per_request=per_request,
        requests_per_day=workload.requests_per_day,
        days_per_month=workload.days_per_month,
        context_window=rates.context_window,
        reserved_tokens=workload.reserved_tokens,
    )


def plan_cost(workload: Workload, rates: Rates) -> PlanCost:
    """Exact cost of `workload` at `rates` through `core.costs` (the reference path)."""
    with exact():
        usage = _usage(workload)
        realtime = cost(usage, rates).scaled(1 - workload.batch_share)
        batch = cost(usage, rates, batch=True).scaled(workload.batch_share)
        return _plan(rates, workload, realtime + batch)


# --- vectorised path --------------------------------------------------------------------------


@dataclass(frozen=True)
class RateMatrix:
    """Every model's real-time and batch rates as kernel rate arrays, one column per model."""

    rates: tuple[Rates, ...]
    realtime: RateArrays = field(repr=False, compare=False)
    batch: RateArrays = field(repr=False, compare=False)
    max_micros: int = field(repr=False, compare=False)  # the bound check's largest rate

    @classmethod
    def from_rates(cls, rates: Sequence[Rates]) -> RateMatrix:
        """Build the matrix once per price book and pricing date; reuse it for every plan."""
        realtime = rate_arrays(rates).map(_model_axis)
        batch = rate_arrays([r.for_batch() for r in rates]).map(_model_axis)
        top = max(realtime.max_micros(), batch.max_micros())
        return cls(tuple(rates), realtime, batch, top)

    def __len__(self) -> int:
        return len(self.rates)


def _model_axis(values: np.ndarray) -> np.ndarray:
    """Rates as a row, so models run along the second axis."""
    return values[None, :]


def _column(values: Sequence[int | Decimal]) -> np.ndarray:
    """Counts as a column of Python ints, so variants run along the first axis."""
    return np.array([int(v) for v in values], dtype=object)[:, None]


def _units(matrix: RateMatrix, variants: Sequence[Workload]) -> dict[str, np.ndarray]:
    """Per-request cost parts in 1e-20 USD, shape (variants, models), through `cost_kernel`.

    Counts are scaled by SHARE_SCALE so a cached share in 1e-4 steps is a whole count (the
    kernel then gives 1e-16 USD); the blend (S - b) x real time + b x batch gives 1e-20 USD.
    """
    s = SHARE_SCALE
    usage = {
        "input_tokens": _column([w.input_tokens * s for w in variants]),
        "cached_input_tokens": _column([w.input_tokens * w.cache_hit_share * s for w in variants]),
        "cache_write_tokens": _column([0] * len(variants)),
        "output_tokens": _column([w.billed_output_tokens * s for w in variants]),
    }
    # The blend multiplies the kernel's values by up to SHARE_SCALE more.
    dtype = kernel_dtype(max_count(usage.values()) * s, matrix.max_micros)
    usage = {name: values.astype(dtype) for name, values in usage.items()}
    tier_input = _column([w.input_tokens for w in variants])
    realtime = cost_kernel(usage, matrix.realtime.astype(dtype), tier_input=tier_input)
    batched = cost_kernel(usage, matrix.batch.astype(dtype))
    batch = _column([w.batch_share * s for w in variants]).astype(dtype)
    real = s - batch
    return {
        name: real * realtime[name] + batch * batched[name] for name in (*COST_PARTS, "cost_pusd")
    }


def _usd(units: int) -> Decimal:
    """Units of 1e-20 USD as Decimal USD; callers hold an `exact()` context."""
    return Decimal(int(units)) / UNITS_PER_USD


def price_variants(matrix: RateMatrix, variants: Sequence[Workload]) -> list[list[PlanCost]]:
    """Every workload variant priced on every model of `matrix` in one vectorised pass."""
    units = _units(matrix, variants)
    parts = [units[name] for name in COST_PARTS]
    table = []
    with exact():
        for i, workload in enumerate(variants):
            row = []
            for j, rates in enumerate(matrix.rates):
                breakdown = CostBreakdown(*(_usd(part[i, j]) for part in parts))
                row.append(_plan(rates, workload, breakdown))
            table.append(row)
    return table


def monthly_totals(matrix: RateMatrix, variants: Sequence[Workload]) -> np.ndarray:
    """Monthly totals (exact Decimal, shape variants x models) without building breakdowns."""
    total = _units(matrix, variants)["cost_pusd"]
    out = np.empty(total.shape, dtype=object)
    with exact():
        for i, workload in enumerate(variants):
            for j in range(total.shape[1]):
                out[i, j] = _usd(total[i, j]) * workload.requests_per_month
    return out


def compare_models(workload: Workload, matrix: RateMatrix) -> list[PlanCost]:
    """The workload priced on every model, cheapest first (ties by provider and model)."""
    costs = price_variants(matrix, [workload])[0]
    return sorted(costs, key=lambda c: (c.monthly_usd, c.provider, c.model))


# --- saved scenarios --------------------------------------------------------------------------


def rates_for(book: PriceBook, model_ref: str, when: date | None) -> Rates | Unpriced:
    """Rates for a `provider/model` option; custom-only models are looked up by bare name."""
    rates = book.price_at(model_ref, when)
    if isinstance(rates, Unpriced) and "/" in model_ref:
        fallback = book.price_at(model_ref.split("/", 1)[1], when)
        return fallback if isinstance(fallback, Rates) else rates
    return rates


def plan_from_params(params: dict, book: PriceBook) -> PlanCost | Unpriced:
    """A saved scenario's parameters (model + workload) priced at its own pricing date."""
    workload = Workload.from_params(params)
    rates = rates_for(book, str(params.get("model", "")), workload.pricing_date)
    if isinstance(rates, Unpriced):
        return rates
    return plan_cost(workload, rates)
