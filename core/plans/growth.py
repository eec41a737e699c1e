"""The growth projection: a plan's monthly cost over the horizon as traffic compounds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.plans.costs import PlanCost
from core.plans.workload import Workload, exact


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
