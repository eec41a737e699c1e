"""Plan a workload before launch: monthly cost, projection, model comparison and sensitivity.

One module a concern: `workload` (the planned traffic and its validation), `costs` (a plan's
cost on one model or every model: the `Decimal` reference path and the vectorised path over
`core.costs`' kernel), `growth` (the month-by-month projection), `sensitivity` (tornado and
grid), `questions` (the four what-ifs), `analysis` (all of it for one workload),
`conversation` (history strategies), `compression` (a shorter prompt) and `frames` (tables for
pages). Import from `core.plans`; the modules are where each rule lives.
"""

from core.plans.analysis import Analysis, analyse
from core.plans.compression import CompressionSaving, compression_saving
from core.plans.conversation import (
    STRATEGIES,
    STRATEGY_LABELS,
    Conversation,
    StrategyCost,
    conversation_costs,
    summary_calls,
    turn_input_tokens,
)
from core.plans.costs import (
    MONTHS_PER_YEAR,
    SHARE_SCALE,
    UNITS_PER_USD,
    PlanCost,
    RateMatrix,
    compare_models,
    monthly_totals,
    plan_cost,
    plan_from_params,
    price_variants,
    rates_for,
)
from core.plans.frames import (
    ASSUMPTION_COLUMNS,
    RESULT_COLUMNS,
    comparison_frame,
    conversation_frames,
    differing_assumptions,
    projection_frame,
    scenario_frame,
    switch_frame,
    tornado_frame,
)
from core.plans.growth import ProjectionMonth, projection
from core.plans.questions import (
    BatchBreakEven,
    CachingReturn,
    ModelSwitch,
    Questions,
    default_cache_target,
)
from core.plans.sensitivity import (
    DRIVER_LABELS,
    DRIVERS,
    GRID_FACTORS,
    CostGrid,
    TornadoBar,
    tornado,
)
from core.plans.workload import CENT, PlanError, Workload, cents, exact

__all__ = [
    "ASSUMPTION_COLUMNS",
    "CENT",
    "DRIVERS",
    "DRIVER_LABELS",
    "GRID_FACTORS",
    "MONTHS_PER_YEAR",
    "RESULT_COLUMNS",
    "SHARE_SCALE",
    "STRATEGIES",
    "STRATEGY_LABELS",
    "UNITS_PER_USD",
    "Analysis",
    "BatchBreakEven",
    "CachingReturn",
    "CompressionSaving",
    "Conversation",
    "CostGrid",
    "ModelSwitch",
    "PlanCost",
    "PlanError",
    "ProjectionMonth",
    "Questions",
    "RateMatrix",
    "StrategyCost",
    "TornadoBar",
    "Workload",
    "analyse",
    "cents",
    "compare_models",
    "comparison_frame",
    "compression_saving",
    "conversation_costs",
    "conversation_frames",
    "default_cache_target",
    "differing_assumptions",
    "exact",
    "monthly_totals",
    "plan_cost",
    "plan_from_params",
    "price_variants",
    "projection",
    "projection_frame",
    "rates_for",
    "scenario_frame",
    "summary_calls",
    "switch_frame",
    "tornado",
    "tornado_frame",
    "turn_input_tokens",
]
