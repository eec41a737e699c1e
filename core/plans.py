"""Plan a workload before launch: monthly cost, projection, model comparison and sensitivity.

Two paths give the same figures. The reference path prices one request with `core.costs.cost`
(exact `Decimal`) and scales it. The vectorised path prices every workload variant on every
model at once through `core.costs.cost_kernel`, the kernel that also prices stored events:
counts are scaled by 1e4 so shares held in 1e-4 steps stay whole, and the real-time/batch blend
(S - b) x kernel(real time) + b x kernel(batch) is an exact integer of 1e-20 USD (int64 when the
bound check allows it, else Python ints). Tests hold both paths equal to the unit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext

import numpy as np
import pandas as pd

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
from core.pricing import PriceBook, Rates, Unpriced

SHARE_SCALE = 10_000  # shares are held in 1e-4 steps (0.01 %)
UNITS_PER_USD = SHARE_SCALE * SHARE_SCALE * 10**6 * 10**6
CENT = Decimal("0.01")
MONTHS_PER_YEAR = 12


class PlanError(ValueError):
    """A workload that cannot be planned, with a message for the user."""


@contextmanager
def exact() -> Iterator[None]:
    """A Decimal context wide enough that no plan figure is ever rounded."""
    with localcontext() as ctx:
        ctx.prec = 80
        yield


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _share(value: object, name: str) -> Decimal:
    share = _dec(value).quantize(Decimal(1).scaleb(-4), rounding=ROUND_HALF_UP)
    if not 0 <= share <= 1:
        raise PlanError(f"{name} must be between 0 % and 100 %.")
    return share


def cents(value: Decimal) -> Decimal:
    """Round half up to the cent, for display and for to-the-cent comparisons."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Workload:
    """Planned traffic: how many requests, how big, and how much is cached or batched."""

    requests_per_day: Decimal
    input_tokens: int
    output_tokens: int
    cache_hit_share: Decimal = Decimal(0)
    batch_share: Decimal = Decimal(0)
    growth_monthly_share: Decimal = Decimal(0)
    days_per_month: int = 30
    months: int = 12
    pricing_date: date | None = None
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "requests_per_day", _dec(self.requests_per_day))
        set_(self, "cache_hit_share", _share(self.cache_hit_share, "Cache-hit share"))
        set_(self, "batch_share", _share(self.batch_share, "Batch share"))
        growth = _dec(self.growth_monthly_share).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        set_(self, "growth_monthly_share", growth)
        self._validate()

    def _validate(self) -> None:
        if self.requests_per_day < 0:
            raise PlanError("Requests per day cannot be negative.")
        if self.input_tokens < 0 or self.output_tokens < 0:
            raise PlanError("Token counts cannot be negative.")
        if not 1 <= self.days_per_month <= 31:
            raise PlanError("Days per month must be between 1 and 31.")
        if not 1 <= self.months <= 120:
            raise PlanError("The horizon must be between 1 and 120 months.")
        if self.growth_monthly_share <= -1:
            raise PlanError("Monthly growth must be above -100 %.")
        if self.max_output_tokens is not None and self.max_output_tokens <= 0:
            raise PlanError("The max_tokens cap must be a positive number of tokens.")

    @property
    def billed_output_tokens(self) -> int:
        """Output tokens per request after the max_tokens cap."""
        if self.max_output_tokens is None:
            return self.output_tokens
        return min(self.output_tokens, self.max_output_tokens)

    @property
    def reserved_tokens(self) -> int:
        """Tokens the context window must hold: input plus the output cap (or the output)."""
        return self.input_tokens + (self.max_output_tokens or self.output_tokens)

    @property
    def requests_per_month(self) -> Decimal:
        """Requests in one month of `days_per_month` days."""
        return self.requests_per_day * self.days_per_month

    def to_params(self) -> dict[str, str | int | None]:
        """JSON-safe parameters (decimal strings, ISO date) for scenarios and links."""
        params = asdict(self)
        for key, value in params.items():
            if isinstance(value, Decimal):
                params[key] = str(value)
            elif isinstance(value, date):
                params[key] = value.isoformat()
        return params

    @classmethod
    def from_params(cls, params: dict) -> Workload:
        """The inverse of `to_params`; unknown keys are ignored."""
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        if known.get("pricing_date"):
            known["pricing_date"] = date.fromisoformat(str(known["pricing_date"]))
        for key in ("input_tokens", "output_tokens", "days_per_month", "months"):
            if key in known:
                known[key] = int(known[key])
        if known.get("max_output_tokens") is not None:
            known["max_output_tokens"] = int(known["max_output_tokens"])
        return cls(**known)


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
    cached = workload.input_tokens * workload.cache_hit_share
    return Usage(workload.input_tokens, workload.billed_output_tokens, cached_input_tokens=cached)


def plan_cost(workload: Workload, rates: Rates) -> PlanCost:
    """Exact cost of `workload` at `rates` through `core.costs` (the reference path)."""
    with exact():
        usage = _usage(workload)
        realtime = cost(usage, rates).scaled(1 - workload.batch_share)
        batch = cost(usage, rates, batch=True).scaled(workload.batch_share)
        return PlanCost(
            provider=rates.provider,
            model=rates.model,
            per_request=realtime + batch,
            requests_per_day=workload.requests_per_day,
            days_per_month=workload.days_per_month,
            context_window=rates.context_window,
            reserved_tokens=workload.reserved_tokens,
        )


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
    return values[None, :]


def _column(values: Sequence[int | Decimal]) -> np.ndarray:
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


def _plan(rates: Rates, workload: Workload, per_request: CostBreakdown) -> PlanCost:
    return PlanCost(
        provider=rates.provider,
        model=rates.model,
        per_request=per_request,
        requests_per_day=workload.requests_per_day,
        days_per_month=workload.days_per_month,
        context_window=rates.context_window,
        reserved_tokens=workload.reserved_tokens,
    )


def compare_models(workload: Workload, matrix: RateMatrix) -> list[PlanCost]:
    """The workload priced on every model, cheapest first (ties by provider and model)."""
    costs = price_variants(matrix, [workload])[0]
    return sorted(costs, key=lambda c: (c.monthly_usd, c.provider, c.model))


# --- projection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectionMonth:
    """One month of the projection: volume and cost after compounding growth."""

    month: int
    requests_per_day: Decimal
    monthly_usd: Decimal
    cumulative_usd: Decimal


def projection(plan: PlanCost, workload: Workload) -> list[ProjectionMonth]:
    """Month by month over the horizon; month 1 is the planned volume, then growth compounds."""
    months, total = [], Decimal(0)
    with exact():
        factor = Decimal(1)
        for month in range(1, workload.months + 1):
            monthly = plan.monthly_usd * factor
            total += monthly
            volume = workload.requests_per_day * factor
            months.append(ProjectionMonth(month, volume, monthly, total))
            factor *= 1 + workload.growth_monthly_share
    return months


# --- sensitivity ------------------------------------------------------------------------------

DRIVERS = ("volume", "input_tokens", "output_tokens", "cache_hit_share", "batch_share", "price")
DRIVER_LABELS = {
    "volume": "Requests per day",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cache_hit_share": "Cache-hit share",
    "batch_share": "Batch share",
    "price": "Token prices",
}


@dataclass(frozen=True)
class TornadoBar:
    """Monthly cost when one driver moves to its low and its high value."""

    driver: str
    label: str
    low_value: Decimal
    high_value: Decimal
    low_usd: Decimal
    high_usd: Decimal
    base_usd: Decimal

    @property
    def spread_usd(self) -> Decimal:
        """How far apart the two ends are: the bar's length."""
        return abs(self.high_usd - self.low_usd)


def _scaled_tokens(tokens: int, factor: Decimal) -> int:
    return int((tokens * factor).to_integral_value(rounding=ROUND_HALF_UP))


def _clamp_share(value: Decimal) -> Decimal:
    return min(Decimal(1), max(Decimal(0), value))


def _driver_variants(w: Workload, swing: Decimal, share_swing: Decimal) -> list[Workload]:
    lo, hi = 1 - swing, 1 + swing
    return [
        replace(w, requests_per_day=w.requests_per_day * lo),
        replace(w, requests_per_day=w.requests_per_day * hi),
        replace(w, input_tokens=_scaled_tokens(w.input_tokens, lo)),
        replace(w, input_tokens=_scaled_tokens(w.input_tokens, hi)),
        replace(w, output_tokens=_scaled_tokens(w.output_tokens, lo)),
        replace(w, output_tokens=_scaled_tokens(w.output_tokens, hi)),
        replace(w, cache_hit_share=_clamp_share(w.cache_hit_share - share_swing)),
        replace(w, cache_hit_share=_clamp_share(w.cache_hit_share + share_swing)),
        replace(w, batch_share=_clamp_share(w.batch_share - share_swing)),
        replace(w, batch_share=_clamp_share(w.batch_share + share_swing)),
    ]


def _driver_value(w: Workload, driver: str) -> Decimal:
    return {
        "volume": w.requests_per_day,
        "input_tokens": Decimal(w.input_tokens),
        "output_tokens": Decimal(w.billed_output_tokens),
        "cache_hit_share": w.cache_hit_share,
        "batch_share": w.batch_share,
    }[driver]


def tornado(
    workload: Workload,
    base_usd: Decimal,
    variant_usd: Sequence[Decimal],
    swing: Decimal,
    share_swing: Decimal,
) -> list[TornadoBar]:
    """Bars from the priced driver variants, widest first (`variant_usd` in driver order)."""
    variants = _driver_variants(workload, swing, share_swing)
    bars = []
    for k, driver in enumerate(DRIVERS[:-1]):
        low, high = variants[2 * k], variants[2 * k + 1]
        bars.append(
            TornadoBar(
                driver,
                DRIVER_LABELS[driver],
                _driver_value(low, driver),
                _driver_value(high, driver),
                variant_usd[2 * k],
                variant_usd[2 * k + 1],
                base_usd,
            )
        )
    with exact():
        bars.append(
            TornadoBar(
                "price",
                DRIVER_LABELS["price"],
                1 - swing,
                1 + swing,
                base_usd * (1 - swing),
                base_usd * (1 + swing),
                base_usd,
            )
        )
    return sorted(bars, key=lambda b: b.spread_usd, reverse=True)


GRID_FACTORS = tuple(Decimal(f) for f in ("0.25", "0.5", "0.75", "1", "1.5", "2", "4"))


@dataclass(frozen=True)
class CostGrid:
    """Monthly cost over requests/day (rows) x output tokens (columns)."""

    requests_per_day: tuple[Decimal, ...]
    output_tokens: tuple[int, ...]
    monthly_usd: tuple[tuple[Decimal, ...], ...]

    def frame(self) -> pd.DataFrame:
        """The grid as a DataFrame (exact Decimal cells)."""
        return pd.DataFrame(
            [list(row) for row in self.monthly_usd],
            index=pd.Index(
                [f"{v.normalize():f}" for v in self.requests_per_day], name="requests/day"
            ),
            columns=pd.Index(list(self.output_tokens), name="output tokens"),
        )


def _grid_variants(w: Workload, factors: Sequence[Decimal]) -> tuple[list, list, list[Workload]]:
    volumes = [w.requests_per_day * f for f in factors]
    outputs = sorted({max(1, _scaled_tokens(w.output_tokens, f)) for f in factors})
    variants = [
        replace(w, requests_per_day=v, output_tokens=o, max_output_tokens=None)
        for v in volumes
        for o in outputs
    ]
    return volumes, outputs, variants


# --- the four classic questions ---------------------------------------------------------------


@dataclass(frozen=True)
class ModelSwitch:
    """Moving the workload to a cheaper model."""

    provider: str
    model: str
    monthly_usd: Decimal
    saving_usd: Decimal
    saving_share: Decimal
    fits_context: bool | None


@dataclass(frozen=True)
class CachingReturn:
    """What prompt caching saves at a cache-hit share, and the months to repay building it."""

    cache_hit_share: Decimal
    monthly_without_usd: Decimal
    monthly_with_usd: Decimal
    engineering_cost_usd: Decimal

    @property
    def saving_usd(self) -> Decimal:
        """Monthly saving from caching."""
        return self.monthly_without_usd - self.monthly_with_usd

    @property
    def saving_share(self) -> Decimal:
        """Share of the uncached bill that caching saves."""
        if self.monthly_without_usd == 0:
            return Decimal(0)
        with exact():
            return self.saving_usd / self.monthly_without_usd

    @property
    def payback_months(self) -> Decimal | None:
        """Months of savings that repay the engineering cost (one decimal, rounded up)."""
        if self.engineering_cost_usd <= 0:
            return Decimal(0)
        if self.saving_usd <= 0:
            return None
        with exact():
            months = self.engineering_cost_usd / self.saving_usd
        return months.quantize(Decimal("0.1"), rounding=ROUND_CEILING)


@dataclass(frozen=True)
class BatchBreakEven:
    """Where batch processing starts paying for its fixed monthly overhead."""

    batch_share: Decimal
    monthly_realtime_usd: Decimal
    monthly_full_batch_usd: Decimal
    overhead_monthly_usd: Decimal
    requests_per_day: Decimal
    days_per_month: int

    @property
    def full_batch_saving_usd(self) -> Decimal:
        """Monthly saving with all traffic on the Batch API, before overhead."""
        return self.monthly_realtime_usd - self.monthly_full_batch_usd

    @property
    def break_even_share(self) -> Decimal | None:
        """The batch share whose saving equals the overhead; None when it is above 100 %."""
        if self.full_batch_saving_usd <= 0:
            return None
        with exact():
            share = self.overhead_monthly_usd / self.full_batch_saving_usd
        return share.quantize(Decimal("0.0001"), ROUND_CEILING) if share <= 1 else None

    @property
    def break_even_requests_per_day(self) -> Decimal | None:
        """Volume from which batching the planned share (100 % if none) beats its overhead."""
        share = self.batch_share or Decimal(1)
        if self.full_batch_saving_usd <= 0 or self.requests_per_day == 0:
            return None
        with exact():
            per_request_day = self.full_batch_saving_usd * share / self.requests_per_day
            volume = self.overhead_monthly_usd / per_request_day
        return volume.quantize(Decimal(1), ROUND_CEILING)

    @property
    def full_batch_saving_share(self) -> Decimal:
        """Share of the real-time bill that full batching saves."""
        if self.monthly_realtime_usd == 0:
            return Decimal(0)
        with exact():
            return self.full_batch_saving_usd / self.monthly_realtime_usd

    @property
    def net_saving_usd(self) -> Decimal:
        """Saving at the planned batch share minus the overhead."""
        share = self.batch_share or Decimal(1)
        with exact():
            return self.full_batch_saving_usd * share - self.overhead_monthly_usd


@dataclass(frozen=True)
class Questions:
    """Answers to: volume doubles, cheaper models, caching payback, batch break-even."""

    monthly_usd: Decimal
    doubled_usd: Decimal
    switches: tuple[ModelSwitch, ...]
    caching: CachingReturn
    batch: BatchBreakEven


@dataclass(frozen=True)
class Analysis:
    """Everything the calculator shows for one workload on one model."""

    workload: Workload
    plan: PlanCost
    projection: tuple[ProjectionMonth, ...]
    comparison: tuple[PlanCost, ...]
    tornado: tuple[TornadoBar, ...]
    grid: CostGrid
    questions: Questions


def _switches(plan: PlanCost, comparison: Sequence[PlanCost]) -> tuple[ModelSwitch, ...]:
    base = plan.monthly_usd
    out = []
    with exact():
        for other in comparison:
            if other.monthly_usd >= base or (other.provider, other.model) == (
                plan.provider,
                plan.model,
            ):
                continue
            saving = base - other.monthly_usd
            out.append(
                ModelSwitch(
                    other.provider,
                    other.model,
                    other.monthly_usd,
                    saving,
                    saving / base,
                    other.fits_context,
                )
            )
    return tuple(out)


def default_cache_target(workload: Workload) -> Decimal:
    """The cache-hit share the caching question assumes: the planned one, else 50 %."""
    return workload.cache_hit_share if workload.cache_hit_share > 0 else Decimal("0.5")


def analyse(
    workload: Workload,
    rates: Rates,
    matrix: RateMatrix,
    *,
    swing: Decimal = Decimal("0.25"),
    share_swing: Decimal = Decimal("0.2"),
    engineering_cost_usd: Decimal = Decimal(0),
    batch_overhead_monthly_usd: Decimal = Decimal(0),
    cache_target_share: Decimal | None = None,
) -> Analysis:
    """The full sensitivity set plus the all-model comparison, in two vectorised passes."""
    target = default_cache_target(workload)
    if cache_target_share is not None:
        target = _share(cache_target_share, "Cache target")
    volumes, outputs, grid_variants = _grid_variants(workload, GRID_FACTORS)
    variants = [
        workload,
        *_driver_variants(workload, swing, share_swing),
        *_what_if_variants(workload, target),
        *grid_variants,
    ]
    selected = RateMatrix.from_rates([rates])
    totals = monthly_totals(selected, variants)[:, 0]
    plan = price_variants(selected, [workload])[0][0]
    comparison = compare_models(workload, matrix)
    doubled, no_cache, with_cache, realtime, full_batch = totals[11:16]
    questions = Questions(
        monthly_usd=totals[0],
        doubled_usd=doubled,
        switches=_switches(plan, comparison),
        caching=CachingReturn(target, no_cache, with_cache, _dec(engineering_cost_usd)),
        batch=BatchBreakEven(
            workload.batch_share,
            realtime,
            full_batch,
            _dec(batch_overhead_monthly_usd),
            workload.requests_per_day,
            workload.days_per_month,
        ),
    )
    return Analysis(
        workload=workload,
        plan=plan,
        projection=tuple(projection(plan, workload)),
        comparison=tuple(comparison),
        tornado=tuple(tornado(workload, totals[0], totals[1:11], swing, share_swing)),
        grid=_grid(volumes, outputs, totals[16:]),
        questions=questions,
    )


def _what_if_variants(workload: Workload, cache_target: Decimal) -> list[Workload]:
    """Doubled volume, no cache, the cache target, all real time, all batch (in that order)."""
    return [
        replace(workload, requests_per_day=workload.requests_per_day * 2),
        replace(workload, cache_hit_share=Decimal(0)),
        replace(workload, cache_hit_share=cache_target),
        replace(workload, batch_share=Decimal(0)),
        replace(workload, batch_share=Decimal(1)),
    ]


def _grid(volumes: Sequence[Decimal], outputs: Sequence[int], cells: Sequence[Decimal]) -> CostGrid:
    width = len(outputs)
    rows = tuple(tuple(cells[i * width : (i + 1) * width]) for i in range(len(volumes)))
    return CostGrid(tuple(volumes), tuple(outputs), rows)


# --- conversations ----------------------------------------------------------------------------

STRATEGIES = ("full", "window", "summary")
STRATEGY_LABELS = {
    "full": "Full history",
    "window": "Last-K window",
    "summary": "Rolling summary",
}


@dataclass(frozen=True)
class Conversation:
    """A multi-turn chat: every turn sends the system prompt, some history and a user message."""

    conversations_per_day: Decimal
    turns: int
    system_tokens: int
    user_tokens: int
    assistant_tokens: int
    window_turns: int = 4
    summary_tokens: int = 300
    summary_every_turns: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "conversations_per_day", _dec(self.conversations_per_day))
        if self.turns < 1:
            raise PlanError("A conversation has at least one turn.")
        if (
            min(self.system_tokens, self.user_tokens, self.assistant_tokens, self.summary_tokens)
            < 0
        ):
            raise PlanError("Token counts cannot be negative.")
        if self.window_turns < 0 or self.summary_every_turns < 1:
            raise PlanError("The window must be 0 or more turns; summaries every 1 or more turns.")


def turn_input_tokens(conv: Conversation, strategy: str) -> list[int]:
    """Input tokens sent at each turn (1..turns) under a history strategy."""
    exchange = conv.user_tokens + conv.assistant_tokens
    sizes = []
    for turn in range(1, conv.turns + 1):
        before = turn - 1  # completed exchanges before this turn
        if strategy == "full":
            history = before * exchange
        elif strategy == "window":
            history = min(before, conv.window_turns) * exchange
        elif strategy == "summary":
            k = conv.summary_every_turns
            summary = conv.summary_tokens if before >= k else 0
            history = summary + (before % k) * exchange
        else:
            raise PlanError(f"Unknown history strategy {strategy!r}.")
        sizes.append(conv.system_tokens + history + conv.user_tokens)
    return sizes


def summary_calls(conv: Conversation) -> list[tuple[int, int]]:
    """(input, output) tokens of each summarising call: previous summary + K exchanges -> S."""
    k = conv.summary_every_turns
    exchange = conv.user_tokens + conv.assistant_tokens
    calls = []
    for m in range(1, (conv.turns - 1) // k + 1):
        previous = conv.summary_tokens if m > 1 else 0
        calls.append((previous + k * exchange, conv.summary_tokens))
    return calls


@dataclass(frozen=True)
class StrategyCost:
    """Tokens and cost of one conversation under one history strategy."""

    strategy: str
    label: str
    input_tokens: int
    output_tokens: int
    per_conversation_usd: Decimal
    monthly_usd: Decimal
    turn_input_tokens: tuple[int, ...]


def conversation_costs(
    conv: Conversation,
    rates: Rates,
    *,
    days_per_month: int = 30,
    cache_hit_share: Decimal = Decimal(0),
) -> list[StrategyCost]:
    """Per-conversation and monthly cost of full history, a last-K window and a rolling summary."""
    share = _share(cache_hit_share, "Cache-hit share")
    out = []
    with exact():
        for strategy in STRATEGIES:
            turns = turn_input_tokens(conv, strategy)
            calls = [(t, conv.assistant_tokens) for t in turns]
            calls += summary_calls(conv) if strategy == "summary" else []
            total = sum(
                (
                    cost(Usage(i, o, cached_input_tokens=i * share), rates).total_usd
                    for i, o in calls
                ),
                Decimal(0),
            )
            out.append(
                StrategyCost(
                    strategy,
                    STRATEGY_LABELS[strategy],
                    sum(i for i, _ in calls),
                    sum(o for _, o in calls),
                    total,
                    total * conv.conversations_per_day * days_per_month,
                    tuple(turns),
                )
            )
    return out


def conversation_frames(costs: Sequence[StrategyCost]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary table per strategy and a long frame of input tokens per turn (for a chart)."""
    full = next((c.per_conversation_usd for c in costs if c.strategy == "full"), None)
    table = pd.DataFrame(
        [
            {
                "strategy": c.label,
                "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens,
                "per_conversation_usd": c.per_conversation_usd,
                "monthly_usd": c.monthly_usd,
                "vs_full_share": (c.per_conversation_usd - full) / full if full else None,
            }
            for c in costs
        ]
    )
    turns = pd.DataFrame(
        [
            {"strategy": c.strategy, "label": c.label, "turn": i, "input_tokens": n}
            for c in costs
            for i, n in enumerate(c.turn_input_tokens, start=1)
        ]
    )
    return table, turns


# --- prompt compression -----------------------------------------------------------------------


@dataclass(frozen=True)
class CompressionSaving:
    """Tokens and dollars saved by a shorter system prompt at the planned volume."""

    current_tokens: int
    compressed_tokens: int
    monthly_before_usd: Decimal
    monthly_after_usd: Decimal
    requests_per_month: Decimal

    @property
    def saved_tokens_per_request(self) -> int:
        """Prompt tokens no longer sent with each request."""
        return self.current_tokens - self.compressed_tokens

    @property
    def saved_tokens_per_month(self) -> Decimal:
        """Prompt tokens no longer sent in a month."""
        return self.saved_tokens_per_request * self.requests_per_month

    @property
    def saved_usd(self) -> Decimal:
        """Dollars saved per month."""
        return self.monthly_before_usd - self.monthly_after_usd


def compression_saving(
    workload: Workload, rates: Rates, current_tokens: int, compressed_tokens: int
) -> CompressionSaving:
    """Saving from replacing a system prompt of `current_tokens` by one of `compressed_tokens`."""
    if min(current_tokens, compressed_tokens) < 0:
        raise PlanError("Token counts cannot be negative.")
    saved = current_tokens - compressed_tokens
    if saved > workload.input_tokens:
        raise PlanError(
            "The current prompt is longer than the average input; raise the input tokens first."
        )
    after = replace(workload, input_tokens=workload.input_tokens - saved)
    return CompressionSaving(
        current_tokens,
        compressed_tokens,
        plan_cost(workload, rates).monthly_usd,
        plan_cost(after, rates).monthly_usd,
        workload.requests_per_month,
    )


# --- scenarios side by side -------------------------------------------------------------------


def scenario_frame(plans: Sequence[tuple[str, PlanCost]]) -> pd.DataFrame:
    """Named plans side by side: model, volume and the cost split (exact Decimal)."""
    rows = [
        {
            "scenario": name,
            "model": p.model,
            "monthly_usd": p.monthly_usd,
            "yearly_usd": p.yearly_usd,
            "requests_per_day": p.requests_per_day,
            "cost_per_request_usd": p.cost_per_request_usd,
            "daily_usd": p.daily_usd,
            "uncached_input_usd": p.monthly.uncached_input_usd,
            "cached_input_usd": p.monthly.cached_input_usd,
            "output_usd": p.monthly.output_usd,
        }
        for name, p in plans
    ]
    return pd.DataFrame(rows)


def comparison_frame(comparison: Sequence[PlanCost], selected: PlanCost) -> pd.DataFrame:
    """All models for one workload: cost, split, context fit and change against the selection."""
    base = selected.monthly_usd
    rows = []
    with exact():
        for p in comparison:
            rows.append(
                {
                    "provider": p.provider,
                    "model": p.model,
                    "monthly_usd": p.monthly_usd,
                    "cost_per_request_usd": p.cost_per_request_usd,
                    "per_1k_requests_usd": p.per_1k_requests_usd,
                    "uncached_input_usd": p.monthly.uncached_input_usd,
                    "cached_input_usd": p.monthly.cached_input_usd,
                    "output_usd": p.monthly.output_usd,
                    "context_window": p.context_window,
                    "fits_context": p.fits_context,
                    "vs_selected_share": (p.monthly_usd - base) / base if base else None,
                    "selected": (p.provider, p.model) == (selected.provider, selected.model),
                }
            )
    return pd.DataFrame(rows)


def projection_frame(months: Sequence[ProjectionMonth]) -> pd.DataFrame:
    """The projection as a table (exact Decimal money)."""
    return pd.DataFrame([asdict(m) for m in months])


def tornado_frame(bars: Sequence[TornadoBar]) -> pd.DataFrame:
    """Tornado bars as a table, widest first."""
    return pd.DataFrame([{**asdict(b), "spread_usd": b.spread_usd} for b in bars])


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
