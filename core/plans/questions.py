"""The four classic what-if questions: doubled volume, cheaper models, caching, batching."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from core.alternatives import rank
from core.plans.costs import PlanCost
from core.plans.workload import Workload, exact


@dataclass(frozen=True)
class ModelSwitch:
    """Moving the workload to a cheaper model, and why that model is suggested."""

    provider: str
    model: str
    monthly_usd: Decimal
    saving_usd: Decimal
    saving_share: Decimal
    fits_context: bool | None
    context_window: int | None = None
    reason: str = ""  # one of core.alternatives.REASONS


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


def cheaper_models(
    plan: PlanCost,
    comparison: Sequence[PlanCost],
    *,
    shortlist: Collection[str] = (),
    in_traffic: Collection[str] = (),
) -> tuple[ModelSwitch, ...]:
    """Every model of `comparison` (chat models, cheapest first) cheaper than `plan`, in the
    order to try them (`core.alternatives.rank`); models too small for the request go last."""
    base = plan.monthly_usd
    cheaper = [
        other
        for other in comparison
        if other.monthly_usd < base and (other.provider, other.model) != (plan.provider, plan.model)
    ]
    ranked = rank(
        [(plan.model, plan.provider)],
        cheaper,
        name=lambda p: p.model,
        maker=lambda p: p.provider,
        shortlist=shortlist,
        in_traffic=in_traffic,
    )
    with exact():
        out = [_switch(r.item, base, r.reason) for r in ranked]
    return tuple(sorted(out, key=lambda sw: sw.fits_context is False))


def _switch(other: PlanCost, base: Decimal, reason: str) -> ModelSwitch:
    """Moving from a plan costing `base` a month to `other`; callers hold `exact()`."""
    saving = base - other.monthly_usd
    return ModelSwitch(
        other.provider,
        other.model,
        other.monthly_usd,
        saving,
        saving / base,
        other.fits_context,
        other.context_window,
        reason,
    )


def default_cache_target(workload: Workload) -> Decimal:
    """The cache-hit share the caching question assumes: the planned one, else 50 %."""
    return workload.cache_hit_share if workload.cache_hit_share > 0 else Decimal("0.5")


def what_if_variants(workload: Workload, cache_target: Decimal) -> list[Workload]:
    """Doubled volume, no cache, the cache target, all real time, all batch (in that order)."""
    return [
        replace(workload, requests_per_day=workload.requests_per_day * 2),
        replace(workload, cache_hit_share=Decimal(0)),
        replace(workload, cache_hit_share=cache_target),
        replace(workload, batch_share=Decimal(0)),
        replace(workload, batch_share=Decimal(1)),
    ]
