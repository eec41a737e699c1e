"""Everything the calculator shows for one workload, priced in two vectorised passes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from core.plans.costs import PlanCost, RateMatrix, compare_models, monthly_totals, price_variants
from core.plans.growth import ProjectionMonth, projection
from core.plans.questions import (
    BatchBreakEven,
    CachingReturn,
    Questions,
    cheaper_models,
    default_cache_target,
    what_if_variants,
)
from core.plans.sensitivity import (
    GRID_FACTORS,
    CostGrid,
    TornadoBar,
    cost_grid,
    driver_variants,
    grid_variants,
    tornado,
)
from core.plans.workload import Workload, as_decimal, as_share
from core.pricing import Rates


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
    shortlist: Collection[str] = (),
    in_traffic: Collection[str] = (),
) -> Analysis:
    """The full sensitivity set plus the all-model comparison, in two vectorised passes.

    `shortlist` (models the team validated) and `in_traffic` (models in its logs) order the
    cheaper models the switch question suggests.
    """
    target = default_cache_target(workload)
    if cache_target_share is not None:
        target = as_share(cache_target_share, "Cache target")
    volumes, outputs, grid_cells = grid_variants(workload, GRID_FACTORS)
    variants = [
        workload,
        *driver_variants(workload, swing, share_swing),
        *what_if_variants(workload, target),
        *grid_cells,
    ]
    selected = RateMatrix.from_rates([rates])
    totals = monthly_totals(selected, variants)[:, 0]
    plan = price_variants(selected, [workload])[0][0]
    comparison = compare_models(workload, matrix)
    doubled, no_cache, with_cache, realtime, full_batch = totals[11:16]
    questions = Questions(
        monthly_usd=totals[0],
        doubled_usd=doubled,
        switches=cheaper_models(plan, comparison, shortlist=shortlist, in_traffic=in_traffic),
        caching=CachingReturn(target, no_cache, with_cache, as_decimal(engineering_cost_usd)),
        batch=BatchBreakEven(
            workload.batch_share,
            realtime,
            full_batch,
            as_decimal(batch_overhead_monthly_usd),
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
        grid=cost_grid(volumes, outputs, totals[16:]),
        questions=questions,
    )
